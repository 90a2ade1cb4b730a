#!/bin/sh
# Builds build/vouch_<version>_<arch>.deb from the tree (make deb): `make install` into a
# staging tree under /usr, the systemd unit, the maintainer scripts of deploy/debian, and a
# control file whose Depends name the Debian packages that hold the shared libraries vouchd
# and vouch link (with the versions built against), found with dpkg -S as dpkg-shlibdeps would.
set -eu
build=${1:-build}
version=$(cat VERSION)
arch=$(dpkg --print-architecture)
stage=$build/deb/vouch_${version}_${arch}
rm -rf "$stage"
make --no-print-directory install DESTDIR="$PWD/$stage" PREFIX=/usr UNIT_DIR=/lib/systemd/system \
    >/dev/null
install -d -m 755 "$stage/DEBIAN"
for f in postinst prerm postrm; do
    install -m 755 "deploy/debian/$f" "$stage/DEBIAN/$f"
done

# The package of each shared library the programs load (dpkg -S takes the path as packaged:
# with merged /usr a library may be known under /lib or /usr/lib).
deps=""
# Only the libraries they name themselves (NEEDED), as dpkg-shlibdeps: theirs come with them.
needed=$(for b in "$build/vouchd" "$build/vouch"; do
    readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'
done | sort -u)
for lib in $(for n in $needed; do
    ldd "$build/vouchd" "$build/vouch" | awk -v n="$n" '$1 == n && $3 ~ /^\// {print $3}'
done | sort -u); do
    pkg=""
    for p in "$lib" "$(readlink -f "$lib")" "${lib#/usr}" "/usr$lib"; do
        pkg=$(dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$pkg" ] && break
    done
    if [ -z "$pkg" ]; then
        echo "make-deb: no package holds $lib" >&2
        exit 1
    fi
    case " $deps " in *" $pkg "*) ;; *) deps="$deps $pkg" ;; esac
done
depends=""
for pkg in $deps; do
    v=$(dpkg-query -W -f='${Version}' "$pkg" | sed 's/-[^-]*$//')
    depends="${depends:+$depends, }$pkg (>= $v)"
done
# useradd and userdel (passwd) for the users; systemd is recommended, not required (containers);
# age for `vouchd backup` and `vouchd restore` (encryption) likewise.
depends="$depends, passwd"
size=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: vouch
Version: $version
Architecture: $arch
Maintainer: vouch developers <vouch@localhost>
Installed-Size: $size
Depends: $depends
Recommends: systemd, softhsm2, age
Section: net
Priority: optional
Description: multi-tenant certificate authority
 vouch is a certificate authority for many tenants: CA hierarchies, profiles,
 issuance, renewal and revocation, an OCSP responder, CRLs, an RFC 3161
 time-stamping authority and ACME, with keys in PKCS#11 tokens or an
 encrypted software store held by a separate signer process.
 .
 The package installs vouchd and vouch, their man pages and the systemd unit,
 creates the users vouch and vouch-signer, and makes a first instance in
 /var/lib/vouch (its first tokens in /var/lib/vouch/initial-tokens.json).
CONTROL
dpkg-deb --root-owner-group --build "$stage" "$build/vouch_${version}_${arch}.deb" >/dev/null
echo "$build/vouch_${version}_${arch}.deb"
