#!/usr/bin/env bash
# Refresh the web pages' vendored front-end assets from the npm registry (run by hand, then commit).
# Nothing is loaded from another host at run time, so every script, style sheet and licence the
# pages and the API docs use is copied into api/web/static/ here.
#   govuk-frontend  compiled CSS and JS (MIT). The GDS Transport font and the crown and crest
#                   images are for GOV.UK only: the @font-face rules are removed, the font family
#                   becomes a system font stack, and the crest image is not copied.
#   swagger-ui-dist Swagger UI for /docs (Apache-2.0). Version 5 renders OpenAPI 3.1, which the
#                   API describes itself in; swagger-ui-bundle on PyPI ships 4.15, which cannot.
#   redoc           ReDoc for /redoc (MIT). Version 2: version 3 fetches icons from its own CDN.
#                   Its sidebar logo is an image on redoc's CDN; that one element is removed.
set -euo pipefail
GOVUK=6.3.0      # the release govuk-frontend-jinja 4.1 is verified against
SWAGGER=5.35.0
REDOC=2.5.4
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
static="$here/api/web/static"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
for p in "govuk-frontend@$GOVUK" "swagger-ui-dist@$SWAGGER" "redoc@$REDOC"; do
    npm pack --silent "$p" >/dev/null
done
mkdir gf sw rd
tar xzf "govuk-frontend-$GOVUK.tgz" -C gf
tar xzf "swagger-ui-dist-$SWAGGER.tgz" -C sw
tar xzf "redoc-$REDOC.tgz" -C rd

rm -rf "$static/govuk" "$static/swagger-ui" "$static/redoc"
mkdir -p "$static/govuk" "$static/swagger-ui" "$static/redoc"
system='system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif'
sed -E \
    -e 's/@font-face\{[^}]*\}//g' \
    -e "s/font-family:GDS Transport,arial,sans-serif/font-family:${system}/g" \
    -e "s/font-family:GDS Transport/font-family:${system}/g" \
    -e 's#url\(/assets/images/govuk-crest.svg\)#none#g' \
    -e 's#/\*\# sourceMappingURL=[^*]*\*/##' \
    gf/package/dist/govuk/govuk-frontend.min.css > "$static/govuk/govuk-frontend.min.css"
sed -e 's#//\# sourceMappingURL=.*##' gf/package/dist/govuk/govuk-frontend.min.js > "$static/govuk/govuk-frontend.min.js"
{
    echo "govuk-frontend $GOVUK (npm), compiled CSS and JS from dist/govuk/."
    echo "Changed here: @font-face rules removed, GDS Transport replaced by a system font stack,"
    echo "the crest image reference removed (GOV.UK only)."
    echo
    sed -n '/^## Licence/,/^## /p' gf/package/README.md | sed '$d'
    # The npm package ships no licence file; this is the repository's LICENSE.txt, word for word.
    cat <<'LICENCE'
The MIT License (MIT)

Copyright (C) 2017 Crown Copyright (Government Digital Service)

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
LICENCE
} > "$static/govuk/LICENSE.txt"

for f in swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE swagger-ui-bundle.js.LICENSE.txt; do
    cp "sw/package/$f" "$static/swagger-ui/$f"
done
sed -i -e 's#//\# sourceMappingURL=.*##' "$static/swagger-ui/swagger-ui-bundle.js"
sed -i -e 's#/\*\# sourceMappingURL=[^*]*\*/##' "$static/swagger-ui/swagger-ui.css"
echo "swagger-ui-dist $SWAGGER (npm)" > "$static/swagger-ui/VERSION"

logo='e?n.createElement("img",{alt:"redocly logo",onError:()=>t(!1),src:"https://cdn.redoc.ly/redoc/logo-mini.svg"}):null'
grep -qF "$logo" rd/package/bundles/redoc.standalone.js || { echo "redoc's logo element has changed; update this script" >&2; exit 1; }
python3 - "$logo" rd/package/bundles/redoc.standalone.js "$static/redoc/redoc.standalone.js" <<'PY'
import sys
logo, src, dst = sys.argv[1:]
text = open(src, encoding="utf-8").read().replace(logo, "null")
text = "\n".join(line for line in text.split("\n") if not line.startswith("//# sourceMappingURL="))
open(dst, "w", encoding="utf-8").write(text)
PY
cp rd/package/LICENSE "$static/redoc/LICENSE"
cp rd/package/bundles/redoc.standalone.js.LICENSE.txt "$static/redoc/redoc.standalone.js.LICENSE.txt"
echo "redoc $REDOC (npm); the sidebar's remote logo image removed" > "$static/redoc/VERSION"
if grep -l "https://cdn\|fonts.googleapis" "$static"/*/*.js "$static"/*/*.css; then
    echo "a vendored file still names a remote host" >&2
    exit 1
fi
echo "vendored into $static"
