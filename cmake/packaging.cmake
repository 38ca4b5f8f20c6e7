# Install rules and the Debian package (`cpack -G DEB` in the build directory; see
# scripts/package). Paths are Debian's: the binary in /usr/bin, the config in /etc (a
# conffile, so `apt-get remove` keeps an edited config and only `purge` deletes it), the
# unit in /lib/systemd/system.
install(TARGETS outrigger RUNTIME DESTINATION bin)
install(FILES ${CMAKE_SOURCE_DIR}/conf/outrigger.yaml DESTINATION /etc/outrigger)
install(FILES ${CMAKE_SOURCE_DIR}/conf/systemd/outrigger.service
        DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/outrigger)
# The manual page, with this version, gzipped as Debian ships them (-n: reproducible). At
# configure time: configure_file makes an edit of the page re-run it.
configure_file(${CMAKE_SOURCE_DIR}/conf/man/outrigger.1.in ${CMAKE_BINARY_DIR}/man/outrigger.1
               @ONLY)
execute_process(COMMAND gzip -9nf ${CMAKE_BINARY_DIR}/man/outrigger.1 -c
                OUTPUT_FILE ${CMAKE_BINARY_DIR}/man/outrigger.1.gz COMMAND_ERROR_IS_FATAL ANY)
install(FILES ${CMAKE_BINARY_DIR}/man/outrigger.1.gz DESTINATION share/man/man1)

if(NOT SYSTEMD_FOUND)
  message(WARNING "libsystemd not found: the binary will not send sd_notify READY=1, which the "
                  "packaged unit (Type=notify) waits for; scripts/package refuses to build it")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME outrigger)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Outrigger maintainers <outrigger@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "HTTP/1.1 reverse proxy and load balancer")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # the build is RelWithDebInfo; the package ships no debug info
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # outrigger_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # Depends: from dpkg-shlibdeps on the binary
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
file(WRITE ${CMAKE_BINARY_DIR}/debian/conffiles "/etc/outrigger/outrigger.yaml\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/debian/conffiles)
include(CPack)
