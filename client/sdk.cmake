# client/sdk.cmake: libsealpost, the shared SDK library (included from
# client/CMakeLists.txt after sealpost_client_core is defined).
#
#   sealpost_client_migrations  client/migrations/*.sql embedded (PREFIX client)
#   sealpost_sdk_obj            keystore, session, transport, relay, sdk objects
#   sealpost_sdk_internal       the same objects as a static library, so the
#                               unit tests call internal functions
#   sealpost                    libsealpost.so.0.1.0 (SONAME libsealpost.so.0);
#                               only SEALPOST_API symbols are exported
#                               (-fvisibility=hidden + version script)
sealpost_embed_migrations(sealpost_client_migrations client
                          ${CMAKE_CURRENT_SOURCE_DIR}/migrations client/migrations.h)
set_target_properties(sealpost_client_migrations PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                           C_VISIBILITY_PRESET hidden)

set(SEALPOST_SDK_SOURCES keystore.c session.c transport.c relay.c sdk.c)
add_library(sealpost_sdk_obj OBJECT ${SEALPOST_SDK_SOURCES})
set_target_properties(sealpost_sdk_obj PROPERTIES POSITION_INDEPENDENT_CODE ON
                                                 C_VISIBILITY_PRESET hidden)
sealpost_target_warnings(sealpost_sdk_obj)
target_compile_definitions(sealpost_sdk_obj PUBLIC SEALPOST_BUILDING_LIBRARY)
target_include_directories(sealpost_sdk_obj PUBLIC ${CMAKE_SOURCE_DIR}
                                                   ${CMAKE_CURRENT_SOURCE_DIR}/include)
# Order: our protobuf-c (via sealpost_client_core) before libsignal-protocol-c.
target_link_libraries(sealpost_sdk_obj PUBLIC
  sealpost_client_core sealpost_client_migrations sealpost_common sealpost_proto
  PkgConfig::PROTOBUF_C PkgConfig::SIGNAL PkgConfig::LIBCRYPTO PkgConfig::SQLITE3
  PkgConfig::CURL Threads::Threads)

add_library(sealpost_sdk_internal STATIC)
target_link_libraries(sealpost_sdk_internal PUBLIC sealpost_sdk_obj)

add_library(sealpost SHARED)
set_target_properties(sealpost PROPERTIES
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  C_VISIBILITY_PRESET hidden
  PUBLIC_HEADER include/sealpost/sealpost.h
  LINK_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/libsealpost.map)
target_include_directories(sealpost PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_options(sealpost PRIVATE
  -Wl,--version-script=${CMAKE_CURRENT_SOURCE_DIR}/libsealpost.map
  -Wl,--no-undefined -Wl,-z,relro -Wl,-z,now)
target_link_libraries(sealpost PRIVATE sealpost_sdk_obj
  sealpost_client_core sealpost_client_migrations sealpost_common sealpost_proto
  PkgConfig::PROTOBUF_C PkgConfig::SIGNAL PkgConfig::LIBCRYPTO PkgConfig::SQLITE3
  PkgConfig::CURL Threads::Threads)

# pkg-config file: dynamic users need only -lsealpost; static users the rest.
set(SEALPOST_PC_LIBDIR ${CMAKE_INSTALL_FULL_LIBDIR})
set(SEALPOST_PC_INCLUDEDIR ${CMAKE_INSTALL_FULL_INCLUDEDIR})
configure_file(sealpost.pc.in ${CMAKE_CURRENT_BINARY_DIR}/sealpost.pc @ONLY)

install(TARGETS sealpost
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sealpost)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/sealpost.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/cli/CMakeLists.txt)
  add_subdirectory(cli)
endif()
