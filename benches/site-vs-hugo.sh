#!/usr/bin/env bash
# benches/site-vs-hugo.sh — `portal build` against Hugo on the same generated pages.
#
#   bash benches/site-vs-hugo.sh [PAGES] [ROUNDS]      # defaults: 1000 pages, 11 rounds
#
# What it does:
#   1. Installs Debian's `hugo` with apt-get if it is missing (apt-get update first;
#      through sudo when not root) and builds `portal` with `cargo build --release`.
#   2. Generates ONE content tree in a temp dir with benches/make-pages.py
#      (deterministic): `_index.md`, `bench/_index.md` and PAGES guidance pages
#      `bench/page-NNNN.md` of 600-1,000 words (h2/h3, lists, a table, emphasis,
#      internal links), TOML `+++` front matter with title, description, weight.
#   3. Writes a portal config for it (content_dir = the tree, templates_dir = this
#      repo's templates/, output_dir = a temp folder) and a Hugo site over the same
#      tree (hugo.toml with contentDir = the tree, uglyURLs = false, no taxonomy/term/
#      RSS pages; layouts/_default/baseof.html, single.html, list.html shaped like the
#      portal's base/page/section templates: header, nav, main with a table of
#      contents, footer; a heading render hook adding the same `#` anchor links the
#      portal adds; the portal's CSS as static files; sitemap and robots.txt on).
#   4. Warms both once, then times ROUNDS alternating pairs (odd rounds portal then
#      hugo, even rounds hugo then portal), wall clock from bash's $EPOCHREALTIME
#      around each command. Every build goes into a fresh (absent) output folder of
#      its own, `sync` is run before each build outside the timed region, and no
#      output is deleted until the end (deleting would charge the next build for it).
#      After each build the script checks that at least PAGES index.html files were
#      written. Disk space needed: about 35 MB per round for 1000 pages.
#      Each round also times `cp -r` of the portal's output into a fresh folder, as a
#      reference for what merely writing the site costs on this disk.
#   5. Prints each pair, the median seconds of each tool, the portal's pages per
#      second (pages it reports built / its median), the median of the per-pair
#      ratios hugo/portal (the target is >= 2.0), and the median of each of the
#      portal's own step timings (load, downloads, render, sitemap, check, write)
#      over the timed rounds.
#
# Exit status: non-zero only when a build fails or writes too few pages; missing the
# 2x target is reported, not an error.
# Environment: KEEP=1 keeps the temp dir; PORTAL_BIN=path times an already built
# binary instead of running cargo build; the temp dir (content and outputs) is made
# under $TMPDIR (default /tmp), and TMPDIR=/dev/shm takes the disk out of the
# comparison, leaving the CPU work. The machine should be otherwise idle: the
# summary prints the load average before and after.
# Needs: bash >= 5 (EPOCHREALTIME), python3, cargo, awk; apt-get for hugo.

set -euo pipefail
export LC_ALL=C   # a `.` in $EPOCHREALTIME and in awk's numbers

PAGES=${1:-1000}
ROUNDS=${2:-11}
[[ $PAGES =~ ^[0-9]+$ && $PAGES -ge 1 ]] || { echo "PAGES must be a positive number" >&2; exit 2; }
[[ $ROUNDS =~ ^[0-9]+$ && $ROUNDS -ge 1 ]] || { echo "ROUNDS must be a positive number" >&2; exit 2; }
[[ -n ${EPOCHREALTIME:-} ]] || { echo "needs bash >= 5 (EPOCHREALTIME)" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --- 1. tools ----------------------------------------------------------------------
if ! command -v hugo >/dev/null 2>&1; then
    echo "== installing Debian's hugo" >&2
    SUDO=
    [[ $(id -u) -eq 0 ]] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq hugo >/dev/null
fi
HUGO=$(command -v hugo)

if [[ -n ${PORTAL_BIN:-} ]]; then
    PORTAL=$PORTAL_BIN                      # a binary built earlier: no cargo build
else
    echo "== cargo build --release" >&2
    (cd "$REPO" && cargo build --release --quiet --bin portal)
    PORTAL="${CARGO_TARGET_DIR:-$REPO/target}/release/portal"
    [[ $PORTAL = /* ]] || PORTAL="$REPO/$PORTAL"
fi
[[ -x $PORTAL ]] || { echo "no portal binary at $PORTAL" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/site-vs-hugo.XXXXXX")
if [[ ${KEEP:-0} = 1 ]]; then
    echo "== keeping $WORK" >&2
else
    trap 'rm -rf "$WORK"' EXIT
fi

# --- 2. the content tree -------------------------------------------------------------
CONTENT="$WORK/content"
python3 "$REPO/benches/make-pages.py" "$CONTENT" "$PAGES"

# --- 3. the portal config and the Hugo site -----------------------------------------
OUT="$WORK/out"
mkdir -p "$OUT"

# The portal's output_dir is fixed per config, so each round gets its own config.
portal_config() { # $1 = output folder; prints the config's path
    local file="$WORK/portal-$(basename "$1").toml"
    cat >"$file" <<EOF
[site]
base_url = "https://portal.example.gov"
content_dir = "$CONTENT"
templates_dir = "$REPO/templates"
output_dir = "$1"
EOF
    echo "$file"
}

HUGO_SITE="$WORK/hugo"
mkdir -p "$HUGO_SITE/layouts/_default/_markup" "$HUGO_SITE/static/assets"
cp "$REPO"/templates/assets/*.css "$HUGO_SITE/static/assets/" 2>/dev/null || true
cat >"$HUGO_SITE/hugo.toml" <<EOF
baseURL = "https://portal.example.gov/"
languageCode = "en"
title = "Managed Care Provider Resolution Portal"
contentDir = "$CONTENT"
uglyURLs = false
disableKinds = ["taxonomy", "term", "RSS"]
enableRobotsTXT = true
enableGitInfo = false

[params]
agency = "Illinois Department of Healthcare and Family Services"
inquiries = "HFS.Portalinquiries@illinois.gov"
phone = "877-782-5565"

[markup.tableOfContents]
startLevel = 2
endLevel = 3
ordered = false

[markup.goldmark.extensions]
table = true
strikethrough = true
footnote = true
typographer = true
EOF

cat >"$HUGO_SITE/layouts/_default/baseof.html" <<'EOF'
<!doctype html>
<html lang="{{ site.LanguageCode }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ if .IsHome }}{{ site.Title }} | Illinois HFS{{ else }}{{ .Title }} | {{ site.Title }}{{ end }}</title>
<meta name="description" content="{{ .Description }}">
<link rel="canonical" href="{{ .Permalink }}">
<link rel="stylesheet" href="/assets/style.css">
<link rel="stylesheet" href="/assets/print.css" media="print">
</head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
<header class="site-header">
  <div class="wrap">
    <p class="agency">{{ site.Params.agency }}</p>
    <a class="site-name" href="/">{{ site.Title }}</a>
  </div>
  <nav class="site-nav" aria-label="Main">
    <ul class="wrap">
      <li><a href="/"{{ if .IsHome }} aria-current="page"{{ end }}>Home</a></li>
      {{- $current := . }}
      {{- range site.Home.Pages.ByWeight }}
      <li><a href="{{ .RelPermalink }}"{{ if eq .RelPermalink $current.RelPermalink }} aria-current="page"{{ end }}>{{ .Title }}</a></li>
      {{- end }}
    </ul>
  </nav>
</header>
<main id="main" class="wrap" tabindex="-1">
{{ block "main" . }}{{ end }}
</main>
<footer class="site-footer">
  <div class="wrap">
    <p>Questions about registering: <a href="mailto:{{ site.Params.inquiries }}">{{ site.Params.inquiries }}</a>.
    Medicaid fee-for-service complaints: call HFS at <a href="tel:+1-{{ site.Params.phone }}">{{ site.Params.phone }}</a>.</p>
    <p>{{ site.Params.agency }}. This site holds no patient information.</p>
  </div>
</footer>
</body>
</html>
EOF

cat >"$HUGO_SITE/layouts/_default/single.html" <<'EOF'
{{ define "main" }}
<article>
<h1>{{ .Title }}</h1>
{{- with .TableOfContents }}
<nav class="toc" aria-labelledby="on-this-page-title">
  <h2 id="on-this-page-title">On this page</h2>
  {{ . }}
</nav>
{{- end }}
{{ .Content }}
</article>
{{ end }}
EOF

cat >"$HUGO_SITE/layouts/_default/list.html" <<'EOF'
{{ define "main" }}
<article>
<h1>{{ .Title }}</h1>
{{- with .TableOfContents }}
<nav class="toc" aria-labelledby="on-this-page-title">
  <h2 id="on-this-page-title">On this page</h2>
  {{ . }}
</nav>
{{- end }}
{{ .Content }}
</article>
{{- if and (not .IsHome) .Pages }}
<nav aria-label="In this section">
  <ul>
    {{- range .Pages.ByWeight }}
    <li><a href="{{ .RelPermalink }}">{{ .Title }}</a></li>
    {{- end }}
  </ul>
</nav>
{{- end }}
{{ end }}
EOF

cat >"$HUGO_SITE/layouts/_default/_markup/render-heading.html" <<'EOF'
<h{{ .Level }} id="{{ .Anchor | safeURL }}">{{ .Text | safeHTML }}<a class="anchor" href="#{{ .Anchor | safeURL }}" aria-label="Link to this section: {{ .PlainText }}">#</a></h{{ .Level }}>
EOF

# --- 4. timing ---------------------------------------------------------------------------
LOG="$WORK/log"
STEPS="$WORK/steps"        # one line per timed portal build: the portal's own summary
: >"$STEPS"
SECONDS_TAKEN=

# Before every timed build: flush the previous build's dirty pages, so a build is not
# charged for the writeback of the one before it. (Outputs are not deleted until the
# end: on ext4 mounted with `discard` an rm -rf is paid for by whoever runs next.)
settle() { sync; }

count_pages() { find "$1" -name index.html -type f | wc -l; }

run_portal() { # $1 = output folder, $2 = 1 to record the step timings
    local config start end
    config=$(portal_config "$1")
    settle
    start=$EPOCHREALTIME
    if ! "$PORTAL" --config "$config" build >"$LOG" 2>&1; then
        echo "portal build failed:" >&2; cat "$LOG" >&2; exit 1
    fi
    end=$EPOCHREALTIME
    SECONDS_TAKEN=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')
    [[ ${2:-0} = 1 ]] && grep '^Built ' "$LOG" >>"$STEPS"
    local n; n=$(count_pages "$1")
    if (( n < PAGES )); then echo "portal wrote only $n index.html files (want >= $PAGES)" >&2; exit 1; fi
}

run_hugo() { # $1 = output folder
    local start end
    settle
    start=$EPOCHREALTIME
    if ! "$HUGO" --source "$HUGO_SITE" --destination "$1" --cacheDir "$WORK/hugo-cache" \
            --noBuildLock --quiet >"$LOG" 2>&1; then
        echo "hugo build failed:" >&2; cat "$LOG" >&2; exit 1
    fi
    end=$EPOCHREALTIME
    SECONDS_TAKEN=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')
    local n; n=$(count_pages "$1")
    if (( n < PAGES )); then echo "hugo wrote only $n index.html files (want >= $PAGES)" >&2; exit 1; fi
}

run_copy() { # $1 = a built site, $2 = where to copy it: the disk's floor for writing one
    local start end
    settle
    start=$EPOCHREALTIME
    cp -r "$1" "$2"
    end=$EPOCHREALTIME
    SECONDS_TAKEN=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.4f", b - a }')
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== warming up (one build each)" >&2
run_portal "$OUT/portal-warm"
echo "   portal: $(cat "$LOG")" >&2
WARM_PORTAL_PAGES=$(count_pages "$OUT/portal-warm")
run_hugo "$OUT/hugo-warm"
WARM_HUGO_PAGES=$(count_pages "$OUT/hugo-warm")

PORTAL_TIMES=()
HUGO_TIMES=()
RATIOS=()
COPY_TIMES=()
printf '\n%-6s %-14s %10s %10s %12s %10s\n' round order portal_s hugo_s hugo/portal cp_-r_s
for (( round = 1; round <= ROUNDS; round++ )); do
    if (( round % 2 == 1 )); then
        order="portal,hugo"
        run_portal "$OUT/portal-$round" 1; p=$SECONDS_TAKEN
        run_hugo "$OUT/hugo-$round";       h=$SECONDS_TAKEN
    else
        order="hugo,portal"
        run_hugo "$OUT/hugo-$round";       h=$SECONDS_TAKEN
        run_portal "$OUT/portal-$round" 1; p=$SECONDS_TAKEN
    fi
    ratio=$(awk -v h="$h" -v p="$p" 'BEGIN { printf "%.3f", h / p }')
    run_copy "$OUT/portal-$round" "$OUT/copy-$round"; c=$SECONDS_TAKEN
    PORTAL_TIMES+=("$p"); HUGO_TIMES+=("$h"); RATIOS+=("$ratio"); COPY_TIMES+=("$c")
    printf '%-6s %-14s %10s %10s %12s %10s\n' "$round" "$order" "$p" "$h" "$ratio" "$c"
done

# --- 5. summary ---------------------------------------------------------------------------
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

MEDIAN_PORTAL=$(median "${PORTAL_TIMES[@]}")
MEDIAN_HUGO=$(median "${HUGO_TIMES[@]}")
MEDIAN_RATIO=$(median "${RATIOS[@]}")
MEDIAN_COPY=$(median "${COPY_TIMES[@]}")
BUILT=$(sed -n 's/^Built \([0-9]*\) pages.*/\1/p' "$STEPS" | head -1)
PPS=$(awk -v n="$BUILT" -v s="$MEDIAN_PORTAL" 'BEGIN { printf "%.0f", n / s }')
MET=$(awk -v r="$MEDIAN_RATIO" 'BEGIN { print (r >= 2.0) ? "met" : "NOT met" }')

echo
echo "pages generated: $PAGES (+2 index pages); index.html files: portal $WARM_PORTAL_PAGES, hugo $WARM_HUGO_PAGES"
echo "portal: $("$PORTAL" --version 2>/dev/null || echo portal)   hugo: $("$HUGO" version | awk '{ print $2 }')   cpus: $(nproc)   load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-32s %10s\n' "median portal build (s)" "$MEDIAN_PORTAL"
printf '%-32s %10s\n' "median hugo build (s)" "$MEDIAN_HUGO"
printf '%-32s %10s\n' "portal pages per second" "$PPS"
printf '%-32s %10s   (target >= 2.0: %s)\n' "median ratio hugo/portal" "$MEDIAN_RATIO" "$MET"
printf '%-32s %10s   (cp -r of the portal'"'"'s output: the disk'"'"'s floor)\n' "median copy of the site (s)" "$MEDIAN_COPY"

# The portal's own per-step timings ("load 12.3 ms, downloads ..."), median over the timed rounds.
echo
echo "portal steps, median over $ROUNDS timed builds (ms):"
sed -n 's/.*(\(.*\))$/\1/p' "$STEPS" | tr ',' '\n' | awk '
    NF == 3 { name = $1; v[name, ++n[name]] = $2; if (!(name in seen)) { seen[name] = 1; order[++k] = name } }
    END {
        for (i = 1; i <= k; i++) {
            name = order[i]; m = n[name]
            for (a = 1; a <= m; a++) s[a] = v[name, a]
            for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++) if (s[b] < s[a]) { t = s[a]; s[a] = s[b]; s[b] = t }
            med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
            printf "  %-10s %8.1f\n", name, med
        }
    }'
awk '{ for (i = 1; i <= NF; i++) if ($i == "in" && $(i + 2) == "ms") print $(i + 1) }' "$STEPS" \
    | sort -g | awk '{ v[NR] = $1 } END { printf "  %-10s %8.1f   (the portal'"'"'s own total, inside the wall clock above)\n", "total", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
