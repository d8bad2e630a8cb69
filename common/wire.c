/* wire.c: being written (see wire.h). */
#include "wire.h"
#include "sealpost.pb-c.h"
