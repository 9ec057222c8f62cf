# Sourced by the .ci/deps-*.sh scripts: `apt_install PKG...` installs Debian packages non-interactively, without
# letting their maintainer scripts start system services (the project runs its own instances on 127.0.0.1).
apt_install() {
    [ "$#" -gt 0 ] || return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    local added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod +x /usr/sbin/policy-rc.d
        added_policy=1
    fi
    local status=0
    { DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "$@"; } || status=$?
    if [ -n "$added_policy" ]; then $sudo rm -f /usr/sbin/policy-rc.d; fi
    return $status
}
