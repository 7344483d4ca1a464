#!/usr/bin/env bash
# Build localtune.app and a .dmg on macOS (run by .github/workflows/installers.yml on a macOS runner).
#
#   packaging/macos/build.sh                -> out/macos/localtune-<version>-macos-<arch>.dmg
#
# Signing and notarization run only when their secrets are in the environment:
#   MACOS_SIGN_IDENTITY      "Developer ID Application: ..." (certificate already in the keychain)
#   APPLE_ID, APPLE_TEAM_ID, APPLE_APP_PASSWORD   notarytool credentials (need MACOS_SIGN_IDENTITY too)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT_DIR="${OUT_DIR:-$ROOT/out/macos}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/macos}"
ENTITLEMENTS="$ROOT/packaging/macos/entitlements.plist"
cd "$ROOT"
VERSION="$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')"
mkdir -p "$OUT_DIR" "$BUILD_DIR"

python3 -c "import sys; sys.path.insert(0, '$ROOT'); import dev; dev.setup()"
PY="$ROOT/.venv/bin/python"
"$PY" -c "import PyInstaller, PIL" 2>/dev/null || "$PY" -m pip install -q -e "$ROOT[package]"  # unlocked Pythons only
"$PY" -m PyInstaller --noconfirm --log-level WARN --distpath "$BUILD_DIR/dist" --workpath "$BUILD_DIR/work" \
    "$ROOT/packaging/localtune.spec"
APP="$BUILD_DIR/dist/localtune.app"

if [[ -n "${MACOS_SIGN_IDENTITY:-}" ]]; then
    echo "== signing inside out with the hardened runtime"
    sign() { codesign --force --timestamp --options runtime --entitlements "$ENTITLEMENTS" --sign "$MACOS_SIGN_IDENTITY" "$@"; }
    # Every Mach-O file first (libraries, extensions, helper executables), the bundle last.
    while IFS= read -r -d '' f; do
        if file -b "$f" | grep -q 'Mach-O'; then sign "$f"; fi
    done < <(find "$APP/Contents" -type f -print0)
    sign "$APP"
    codesign --verify --deep --strict --verbose=2 "$APP"
else
    echo "== MACOS_SIGN_IDENTITY not set: the app stays unsigned (ad-hoc); Gatekeeper will warn users"
fi

echo "== self-test of the built app"
"$APP/Contents/MacOS/localtune" --selftest

echo "== disk image"
DMG="$OUT_DIR/localtune-$VERSION-macos-$(uname -m).dmg"
STAGE="$BUILD_DIR/dmg"
rm -rf "$STAGE" "$DMG" && mkdir -p "$STAGE"
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname localtune -srcfolder "$STAGE" -ov -format UDZO "$DMG"

if [[ -n "${MACOS_SIGN_IDENTITY:-}" ]]; then
    codesign --force --timestamp --sign "$MACOS_SIGN_IDENTITY" "$DMG"
    if [[ -n "${APPLE_ID:-}" && -n "${APPLE_TEAM_ID:-}" && -n "${APPLE_APP_PASSWORD:-}" ]]; then
        echo "== notarizing"
        xcrun notarytool submit "$DMG" --apple-id "$APPLE_ID" --team-id "$APPLE_TEAM_ID" \
            --password "$APPLE_APP_PASSWORD" --wait
        xcrun stapler staple "$DMG"
    else
        echo "== notarization credentials not set: signed but not notarized"
    fi
fi
echo "built: $DMG"
