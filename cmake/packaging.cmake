# Install rules and the Debian package (`cpack -G DEB` in the build directory; see
# scripts/package). Paths are Debian's: the binary in /usr/bin, the config in /etc (a
# conffile, so `apt-get remove` keeps an edited config and only `purge` deletes it), the
# unit in /lib/systemd/system.
install(TARGETS outrigger RUNTIME DESTINATION bin)
install(FILES ${CMAKE_SOURCE_DIR}/conf/outrigger.yaml DESTINATION /etc/outrigger)
install(FILES ${CMAKE_SOURCE_DIR}/conf/systemd/outrigger.service
        DESTINATION /lib/systemd/system)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/outrigger)

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
