/*
 * sdk_internal.h: hooks into client/sdk.c for the SDK's own tests (not
 * installed, not exported).
 */
#ifndef SEALPOST_CLIENT_SDK_INTERNAL_H
#define SEALPOST_CLIENT_SDK_INTERNAL_H

#include "common/clock.h"
#include "sealpost/sealpost.h"

struct keystore;
struct session;

/* sealpost_open with an injected clock (borrowed; must outlive the handle). */
sealpost_status sdk_open_with_clock(sealpost_client **out, const char *state_dir,
                                    const sealpost_options *opts, const struct sp_clock *clock);
struct keystore *sdk_keystore(sealpost_client *c);
struct session *sdk_session(sealpost_client *c);

/* Settings keys of the tunables (values in seconds / counts). */
#define SDK_SET_SPK_ROTATION_S  "spk_rotation_s"   /* default 7 days */
#define SDK_SET_SPK_GRACE_S     "spk_grace_s"      /* default 30 days */
#define SDK_SET_PREKEY_LOW      "prekey_refill_below" /* default 25 */
#define SDK_SET_PREKEY_TARGET   "prekey_target"    /* default 100 */
#define SDK_SET_SEEN_MAX_AGE_S  "seen_max_age_s"   /* default 60 days */

#endif
