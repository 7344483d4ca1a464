#!/usr/bin/env bash
# Build localtune's Linux installers: a .deb and a .tar.gz of the PyInstaller one-folder app (CPU variant).
#
#   packaging/linux/build.sh            -> out/linux/localtune_<version>_amd64.deb, localtune-<version>-linux-x86_64.tar.gz
#   OUT_DIR=/tmp/x packaging/linux/build.sh
#
# Needs: python3 (>= 3.10), dpkg-deb, desktop-file-validate (desktop-file-utils), appstreamcli (appstream).
# BUILD_DIR (default /tmp/localtune-build) holds PyInstaller's work files; SKIP_FREEZE=1 reuses its last app.
# DEB_COMPRESS (zstd, xz, gzip; default zstd) and DEB_LEVEL (default 9) choose the .deb's compression.
# LOCALTUNE_VARIANT=cuda builds the package localtune-cuda from a venv that holds CUDA torch (packaging/README.md).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
HERE="$ROOT/packaging/linux"
RES="$ROOT/resources"  # icons, desktop entry and metainfo (also in the app as localtune.resources)
OUT_DIR="${OUT_DIR:-$ROOT/out/linux}"
BUILD_DIR="${BUILD_DIR:-/tmp/localtune-build}"
APP_ID="io.github.localtune.Localtune"
VARIANT="${LOCALTUNE_VARIANT:-cpu}"
export LOCALTUNE_VARIANT="$VARIANT"  # read by the spec
PKG=localtune; [[ "$VARIANT" == cuda ]] && PKG=localtune-cuda
# The CPU package must stay small; any file must stay under GitHub's 2 GiB release-asset limit.
MAX_DEB_BYTES=$((400 * 1000 * 1000)); [[ "$VARIANT" == cuda ]] && MAX_DEB_BYTES=$((2047 * 1024 * 1024))
cd "$ROOT"

VERSION="$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')"
ARCH="$(dpkg --print-architecture)"
mkdir -p "$OUT_DIR" "$BUILD_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"

echo "== validating desktop entry and AppStream metainfo"
desktop-file-validate "$RES/linux/$APP_ID.desktop"
appstreamcli validate --no-net "$RES/linux/$APP_ID.metainfo.xml"

echo "== Python environment (the project's .venv, installed from locks/linux-x86_64-$VARIANT.txt with PyInstaller)"
python3 -c "import sys; sys.path.insert(0, '$ROOT'); import dev; dev.setup()"
PY="$ROOT/.venv/bin/python"
# The lock holds PyInstaller; only a Python without a lock (dev.py says so) needs the extra here.
"$PY" -c "import PyInstaller" 2>/dev/null || "$PY" -m pip install -q --disable-pip-version-check -e "$ROOT[package]"

# PyInstaller imports the libraries to analyse them: keep that offline too (bitsandbytes would try to fetch a
# kernel from the Hub on CPUs with AVX512-BF16).
export HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 USE_HUB_KERNELS=NO DISABLE_KERNEL_MAPPING=1
APP="$BUILD_DIR/dist/localtune"
if [[ "${SKIP_FREEZE:-}" != 1 || ! -x "$APP/localtune" ]]; then
    echo "== freezing with PyInstaller (several minutes)"
    start=$SECONDS
    "$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$BUILD_DIR/dist" --workpath "$BUILD_DIR/work" \
        "$ROOT/packaging/localtune.spec"
    echo "   froze in $((SECONDS - start)) s"
fi
if [[ "$VARIANT" == cpu ]] && find "$APP" -name 'libbitsandbytes_cuda*' -o -name 'libbitsandbytes_rocm*' | grep -q .; then
    echo "error: bitsandbytes GPU libraries ended up in the CPU build" >&2; exit 1
fi

echo "== staging the package root"
STAGE="$BUILD_DIR/deb"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
    "$STAGE/usr/share/metainfo" "$STAGE/usr/share/doc/localtune"
cp -a "$APP" "$STAGE/opt/localtune"
ln -s /opt/localtune/localtune "$STAGE/usr/bin/localtune"
printf '#!/bin/sh\nexec /opt/localtune/localtune cli "$@"\n' > "$STAGE/usr/bin/localtune-cli"
chmod 755 "$STAGE/usr/bin/localtune-cli"
install -m 644 "$RES/linux/$APP_ID.desktop" "$STAGE/usr/share/applications/"
install -m 644 "$RES/linux/$APP_ID.metainfo.xml" "$STAGE/usr/share/metainfo/"
install -D -m 644 "$RES/icons/localtune.svg" "$STAGE/usr/share/icons/hicolor/scalable/apps/$APP_ID.svg"
for size in 16 32 48 64 128 256 512; do
    install -D -m 644 "$RES/icons/localtune-$size.png" \
        "$STAGE/usr/share/icons/hicolor/${size}x${size}/apps/$APP_ID.png"
done
printf 'localtune %s\nLicense: Apache-2.0. Bundled components keep their own licenses (see /opt/localtune/_internal/*.dist-info).\n' \
    "$VERSION" > "$STAGE/usr/share/doc/localtune/copyright"

# Depends: the system libraries the bundle links against but does not carry (PyInstaller leaves out libc, libGL
# and the like), mapped to the Debian packages that hold them on the build machine.
echo "== computing package dependencies"
LINKED="$(find "$STAGE/opt/localtune" -type f \( -name '*.so*' -o -perm -u+x \) -print0 \
    | xargs -0 file -N --mime-type | awk -F': ' '$2 ~ /x-(sharedlib|executable|pie-executable)/ {print $1}' \
    | { xargs ldd 2>/dev/null || true; } | awk '/=> \// {print $1, $3}' | sort -u)"  # soname, system path
BUNDLED="$(find "$STAGE/opt/localtune" -printf '%f\n' | sort -u)"
SYSTEM_DEBS="$(awk 'NR == FNR {b[$1] = 1; next} !($1 in b) {print $2}' <(echo "$BUNDLED") <(echo "$LINKED") \
    | xargs -r realpath | { xargs -r dpkg -S 2>/dev/null || true; } | cut -d: -f1)"  # unowned files are skipped
# Qt's xcb platform plugin loads these at run time (dlopen), so ldd cannot see them.
DEPENDS="$(printf '%s\n' $SYSTEM_DEBS libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 \
    libxcb-shape0 libegl1 libfontconfig1 | sort -u | paste -sd, | sed 's/,/, /g')"
INSTALLED_KB="$(du -sk "$STAGE" --exclude=DEBIAN | cut -f1)"
cat > "$STAGE/DEBIAN/control" <<EOF
Package: $PKG
Conflicts: $([[ "$PKG" == localtune ]] && echo localtune-cuda || echo localtune)
Version: $VERSION
Architecture: $ARCH
Maintainer: The localtune developers <maintainers@localtune.invalid>
Installed-Size: $INSTALLED_KB
Depends: $DEPENDS
Section: utils
Priority: optional
Description: private workplace journal that trains an AI on your own computer
 localtune keeps an encrypted journal of workplace situations and trains a small
 language model on it, locally, with QLoRA. The starter model is included; the
 app works offline. This is the $VARIANT build.
EOF

echo "== building the .deb and the .tar.gz"
DEB="$OUT_DIR/${PKG}_${VERSION}_${ARCH}.deb"
# zstd -9 measured 362 MB here in minutes; xz would be a little smaller but never finished on this 2-core machine.
dpkg-deb --root-owner-group -Z"${DEB_COMPRESS:-zstd}" -z"${DEB_LEVEL:-9}" --build "$STAGE" "$DEB" >/dev/null
TARNAME="$PKG-$VERSION-linux-$(uname -m)"
rm -rf "$BUILD_DIR/tar" && mkdir -p "$BUILD_DIR/tar/$TARNAME/share"
cp -a "$APP/." "$BUILD_DIR/tar/$TARNAME/"
cp -a "$STAGE/usr/share/applications" "$STAGE/usr/share/metainfo" "$STAGE/usr/share/icons" "$BUILD_DIR/tar/$TARNAME/share/"
tar -C "$BUILD_DIR/tar" -czf "$OUT_DIR/$TARNAME.tar.gz" "$TARNAME"

echo "== checks"
deb_bytes=$(stat -c %s "$DEB")
echo "   $(basename "$DEB"): $((deb_bytes / 1000000)) MB (limit $((MAX_DEB_BYTES / 1000000)) MB), installed $((INSTALLED_KB / 1024)) MiB"
echo "   $TARNAME.tar.gz: $(( $(stat -c %s "$OUT_DIR/$TARNAME.tar.gz") / 1000000 )) MB"
if (( deb_bytes > MAX_DEB_BYTES )); then echo "error: the .deb is over the size limit" >&2; exit 1; fi
if find "$OUT_DIR" "$STAGE" -type f -size +2047M | grep .; then echo "error: a file is 2 GiB or more" >&2; exit 1; fi
dpkg-deb --info "$DEB" >/dev/null
echo "built: $DEB"
echo "built: $OUT_DIR/$TARNAME.tar.gz"
