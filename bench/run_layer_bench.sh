#!/usr/bin/env bash
# Measures layersift's engine-core acceptance figures on realistic container layers:
# scan throughput against the fastest command-line decompressors (igzip, zstd) on the same layer,
# and peak memory at three layer sizes. See bench/README.md for what each figure means.
#
#   bash bench/run_layer_bench.sh [--runs N] [--bin PATH] [--cache DIR] [--results DIR]
#                                 [--build-only] [-- FLAGS]
#
# The layers are built once into the cache (outside the repository) and reused. The report goes
# to stdout and to bench/results/<date>-<host>.md, the raw per-run timings beside it (.raw.tsv).
#
# Exit status: 0 every acceptance check passed; 1 at least one check failed; 2 usage or setup
# error; 3 a measured command itself failed (layersift exit 2 or 3, a decompressor error).
set -euo pipefail

# --- named limits -----------------------------------------------------------------------------
readonly kBytesPerMB=1000000                  # MB = 10^6 bytes, as in shared/PERFORMANCE.md
readonly kLayer500TargetBytes=550000000       # tar size the "500 MB" layer must reach
readonly kLayer200TargetBytes=200000000       # tar size of the prefix subset
readonly kLayer2gCopies=4                     # the 2 GB layer is the 500 MB content this many times
readonly kMaxFileBytes=$((64 * 1024 * 1024))  # larger files are left out: no single file dominates
readonly kMinFreeBuildBytes=5000000000        # peak disk use while building, with headroom
readonly kGzipLevel=6
readonly kZstdLevel=3
# Acceptance limits (engine-core milestone).
readonly kMaxGzipRatio=1.5 kGoalGzipRatio=1.1
readonly kMaxZstdRatio=1.6
readonly kMaxRss500MiB=400
readonly kMaxRssGrowthPercent=20
# Rule-set milestone: the full built-in set keeps at least 80% of the starter set's throughput,
# i.e. its wall time is at most 1/0.8 = 1.25 times the starter set's.
readonly kMaxFullVsStarterWallRatio=1.25

# npm packages whose node_modules tree stands in for a JavaScript application layer.
readonly kNpmPackages=(typescript lodash react react-dom express webpack eslint @babel/core
  moment axios rxjs prettier)

# /usr groups as "path-glob cap-MB" (cap 0 = no cap), taken in this order until the layer reaches
# its target. The caps keep the mix close to a real image: headers, Python, ELF executables and
# shared libraries, data and docs; the uncapped groups at the end only fill up small machines.
readonly kUsrGroups=(
  "usr/include 100"
  "usr/lib/python3* 100"
  "usr/bin 80"
  "usr/lib/*-linux-gnu 150"
  "usr/share 120"
  "usr/lib 0"
  "usr/share 0"
  "usr 0"
)

# --- arguments --------------------------------------------------------------------------------
usage() {
  cat <<'EOF'
usage: bash bench/run_layer_bench.sh [--runs N] [--bin PATH] [--cache DIR] [--results DIR]
                                    [--build-only] [-- FLAGS]

  --runs N       timed runs per row after one warm-up; the median is reported (default 5)
  --bin PATH     layersift binary (default $LAYERSIFT, else build/layersift in the repository)
  --cache DIR    where the layers are built and kept
                 (default $LAYERSIFT_BENCH_CACHE, else ~/.cache/layersift-bench)
  --results DIR  where the report and raw runs go (default bench/results in the repository)
  --build-only   build the cached layers (if missing) and stop
  -- FLAGS       everything after -- is passed to every `layersift scan`,
                 e.g. -- --threads 1 --engine re2
EOF
}

die() { printf 'bench: error: %s\n' "$*" >&2; exit 2; }
note() { printf 'bench: %s\n' "$*" >&2; }

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=5
bin=${LAYERSIFT:-$repo_root/build/layersift}
cache=${LAYERSIFT_BENCH_CACHE:-$HOME/.cache/layersift-bench}
results_dir=$repo_root/bench/results
build_only=0
scan_flags=()
while (($#)); do
  case $1 in
    --runs) (($# >= 2)) || die "--runs needs a value"; runs=$2; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --bin) (($# >= 2)) || die "--bin needs a value"; bin=$2; shift 2 ;;
    --bin=*) bin=${1#*=}; shift ;;
    --cache) (($# >= 2)) || die "--cache needs a value"; cache=$2; shift 2 ;;
    --cache=*) cache=${1#*=}; shift ;;
    --results) (($# >= 2)) || die "--results needs a value"; results_dir=$2; shift 2 ;;
    --results=*) results_dir=${1#*=}; shift ;;
    --build-only) build_only=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; scan_flags=("$@"); break ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer, got '$runs'"
case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
case $cache/ in "$repo_root"/*) die "the cache must live outside the repository: $cache" ;; esac

need_tool() { command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"; }
need_tool tar "install tar"
need_tool gzip "install gzip"
need_tool zstd "apt-get install -y zstd"
need_tool igzip "apt-get install -y isal   (Debian's ISA-L command-line tool)"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found: apt-get install -y time"

work=$(mktemp -d "$cache/tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --- building the layers ----------------------------------------------------------------------
# Everything is written under a temporary name and renamed when complete, so an interrupted build
# never leaves a file that a later run would take as finished.

readonly tar_list_opts=(--no-recursion --verbatim-files-from --no-unquote --ignore-failed-read
  --warning=no-file-changed --warning=no-file-removed)

# Runs tar at the lowest priority; exit 1 (a file changed while read) is tolerated.
nice_tar() {
  local rc=0
  nice -n 19 tar "$@" || rc=$?
  ((rc <= 1)) || die "tar $* failed with exit $rc"
}

gzip_cmd=(gzip)
command -v pigz >/dev/null 2>&1 && gzip_cmd=(pigz)

compress_gz() { # src dst
  note "compressing $(basename "$2") with ${gzip_cmd[0]} -$kGzipLevel"
  nice -n 19 "${gzip_cmd[@]}" "-$kGzipLevel" -c "$1" >"$2.part"
  mv "$2.part" "$2"
}

compress_zst() { # src dst
  note "compressing $(basename "$2") with zstd -$kZstdLevel -T2"
  nice -n 19 zstd -q "-$kZstdLevel" -T2 -c "$1" >"$2.part"
  mv "$2.part" "$2"
}

free_bytes() { df -P -B1 "$1" | awk 'NR == 2 { print $4 }'; }

# Prints "size<TAB>path" for every regular single-link file under the given relative paths, sorted
# by path. Names with control characters are left out: the tar name lists are one name per line.
list_files() { # root relpath...
  local root=$1; shift
  (cd "$root" && find "$@" -xdev \( -name '*[[:cntrl:]]*' -prune \) -o \
    \( -type f -links 1 -size -$((kMaxFileBytes / 1024))k -printf '%s\t%p\n' \) 2>/dev/null) |
    LC_ALL=C sort -t $'\t' -k2 || true
}

# Installs the npm packages into $1/app; prints nothing and returns 1 if npm is unusable.
install_npm_tree() {
  local dir=$1/app
  command -v npm >/dev/null 2>&1 || { note "npm not found: the layer has no node_modules part"; return 1; }
  mkdir -p "$dir"
  printf '{"name":"layersift-bench-app","version":"1.0.0","private":true}\n' >"$dir/package.json"
  note "npm install ${kNpmPackages[*]}"
  if ! (cd "$dir" && nice -n 19 timeout 900 npm install --no-audit --no-fund --no-progress \
    --loglevel=error "${kNpmPackages[@]}" >&2); then
    note "npm install failed: the layer has no node_modules part"
    return 1
  fi
}

# Builds layer-500.tar and layer-500.list ("size<TAB>member" in archive order).
build_layer_500() {
  local out=$cache/layer-500.tar list=$cache/layer-500.list
  local have=$(( $(free_bytes "$cache") ))
  ((have >= kMinFreeBuildBytes)) ||
    die "building the layers needs ~$((kMinFreeBuildBytes / 1000000000)) GB free in $cache, have $((have / 1000000)) MB"

  : >"$work/npm.list"
  if install_npm_tree "$work/npm"; then
    list_files "$work/npm" app >"$work/npm.list"
  fi
  local npm_bytes
  npm_bytes=$(awk -F'\t' '{ s += 512 + int(($1 + 511) / 512) * 512 } END { print s + 0 }' "$work/npm.list")
  note "node_modules part: $((npm_bytes / kBytesPerMB)) MB in $(wc -l <"$work/npm.list") files"

  # Pick /usr files group by group (each up to its cap) until the tar reaches its target.
  local group glob cap paths
  for group in "${kUsrGroups[@]}"; do
    read -r glob cap <<<"$group"
    printf '#group\t%s\n' "$((cap * kBytesPerMB))"
    mapfile -t paths < <(cd / && compgen -G "$glob" || true)
    if ((${#paths[@]})); then list_files / "${paths[@]}"; fi
  done | awk -F'\t' -v target=$((kLayer500TargetBytes - npm_bytes)) '
    $1 == "#group" { cap = $2; taken = 0; next }
    NF != 2 || ($2 in seen) || total >= target || (cap > 0 && taken >= cap) { next }
    { seen[$2] = 1; b = 512 + int(($1 + 511) / 512) * 512; taken += b; total += b; print }
  ' | LC_ALL=C sort -t $'\t' -k2 >"$work/usr.list"

  note "building layer-500.tar from $(wc -l <"$work/usr.list") /usr files"
  nice_tar -cf "$out.part" -T /dev/null
  if [[ -s $work/npm.list ]]; then
    nice_tar -rf "$out.part" "${tar_list_opts[@]}" -C "$work/npm" -T <(cut -f2 "$work/npm.list")
  fi
  nice_tar -rf "$out.part" "${tar_list_opts[@]}" -C / -T <(cut -f2 "$work/usr.list")
  cat "$work/npm.list" "$work/usr.list" >"$list.part"
  rm -rf "$work/npm"

  local size
  size=$(stat -c %s "$out.part")
  ((size >= 500 * kBytesPerMB)) || note "WARNING: layer-500.tar is only $((size / kBytesPerMB)) MB: this machine's /usr is small"
  mv "$list.part" "$list"
  mv "$out.part" "$out"
  # Derived layers from an older base are stale.
  rm -f "$cache"/layer-500.tar.{gz,zst} "$cache"/layer-200.tar.* "$cache"/layer-2g.tar.*
}

# Prints the members of layer-200: the first files of layer-500 up to kLayer200TargetBytes.
layer_200_names() {
  awk -F'\t' -v target=$kLayer200TargetBytes '
    total >= target { exit } { total += 512 + int(($1 + 511) / 512) * 512; print $2 }
  ' "$cache/layer-500.list"
}

# Builds layer-200.tar.gz (a prefix of layer-500's members) and layer-2g.tar.gz (layer-500's members
# under copy1/ .. copy4/) from an extracted copy of layer-500.tar, so both hold exactly its content.
build_derived_layers() {
  local x=$work/extract
  mkdir -p "$x"
  note "extracting layer-500.tar to derive the 200 MB and 2 GB layers"
  nice_tar -xf "$cache/layer-500.tar" -C "$x" --no-same-owner
  cut -f2 "$cache/layer-500.list" >"$work/all.names"

  if [[ ! -s $cache/layer-200.tar.gz ]]; then
    layer_200_names >"$work/200.names"
    nice_tar -cf "$work/layer-200.tar" "${tar_list_opts[@]}" -C "$x" -T "$work/200.names"
    stat -c %s "$work/layer-200.tar" >"$cache/layer-200.tar.size"
    compress_gz "$work/layer-200.tar" "$cache/layer-200.tar.gz"
    rm -f "$work/layer-200.tar"
  fi

  if [[ ! -s $cache/layer-2g.tar.gz ]]; then
    local n
    nice_tar -cf "$work/layer-2g.tar" -T /dev/null
    for ((n = 1; n <= kLayer2gCopies; n++)); do
      note "building layer-2g.tar: copy $n of $kLayer2gCopies"
      nice_tar -rf "$work/layer-2g.tar" "${tar_list_opts[@]}" -C "$x" \
        --transform "s,^,copy$n/," -T "$work/all.names"
    done
    rm -rf "$x"
    stat -c %s "$work/layer-2g.tar" >"$cache/layer-2g.tar.size"
    compress_gz "$work/layer-2g.tar" "$cache/layer-2g.tar.gz"
    rm -f "$work/layer-2g.tar"
  fi
  rm -rf "$x"
}

ensure_layers() {
  if [[ ! -s $cache/layer-500.tar || ! -s $cache/layer-500.list ]]; then
    build_layer_500
  fi
  [[ -s $cache/layer-500.tar.gz ]] || compress_gz "$cache/layer-500.tar" "$cache/layer-500.tar.gz"
  [[ -s $cache/layer-500.tar.zst ]] || compress_zst "$cache/layer-500.tar" "$cache/layer-500.tar.zst"
  if [[ ! -s $cache/layer-200.tar.gz || ! -s $cache/layer-2g.tar.gz ]]; then
    build_derived_layers
  fi
}

# Uncompressed bytes of a layer; for a .tar.gz the figure recorded at build time, recomputed once
# if lost (gzip -l is wrong past 4 GiB, so it is not used).
uncompressed_bytes() { # layer file
  local f=$1
  case $f in
    *.tar) stat -c %s "$f" ;;
    *.tar.gz | *.tar.zst)
      local t=${f%.*}
      if [[ $t == "$cache/layer-500.tar" ]]; then
        stat -c %s "$t"
      else
        [[ -s $t.size ]] || igzip -dc "$f" | wc -c >"$t.size"
        cat "$t.size"
      fi
      ;;
  esac
}

ensure_layers
readonly l500=$cache/layer-500.tar l500gz=$cache/layer-500.tar.gz l500zst=$cache/layer-500.tar.zst
readonly l200gz=$cache/layer-200.tar.gz l2ggz=$cache/layer-2g.tar.gz
bytes_500=$(uncompressed_bytes "$l500")
bytes_200=$(uncompressed_bytes "$l200gz")
bytes_2g=$(uncompressed_bytes "$l2ggz")

mb() { awk -v b="$1" -v d="$kBytesPerMB" 'BEGIN { printf "%.1f", b / d }'; }

layers_table() {
  local f members files_500 files_200
  files_500=$(wc -l <"$cache/layer-500.list")
  files_200=$(layer_200_names | wc -l)
  echo "| layer | file MB | uncompressed MB | files |"
  echo "|---|---:|---:|---:|"
  for f in "$l500" "$l500gz" "$l500zst" "$l200gz" "$l2ggz"; do
    case $f in
      "$l200gz") members=$files_200 ;;
      "$l2ggz") members=$((kLayer2gCopies * files_500)) ;;
      *) members=$files_500 ;;
    esac
    local u=$bytes_500
    [[ $f == "$l200gz" ]] && u=$bytes_200
    [[ $f == "$l2ggz" ]] && u=$bytes_2g
    printf '| %s | %s | %s | %s |\n' "$(basename "$f")" "$(mb "$(stat -c %s "$f")")" "$(mb "$u")" "$members"
  done
}

composition_table() {
  echo "| part of layer-500 | MB | files |"
  echo "|---|---:|---:|"
  awk -F'\t' '{
      n = split($2, p, "/"); key = n > 2 ? p[1] "/" p[2] : p[1]
      if (p[1] == "usr" && p[2] == "lib" && n > 3) key = key "/" p[3]
      bytes[key] += $1; files[key]++
    } END { for (k in bytes) printf "| %s | %.1f | %d |\n", k, bytes[k] / 1e6, files[k] }' \
    "$cache/layer-500.list" | LC_ALL=C sort
}

note "layers in $cache:"
layers_table >&2
if ((build_only)); then
  exit 0
fi

[[ -x $bin ]] || die "layersift binary not found at $bin: build it first or pass --bin PATH"

# --- measuring --------------------------------------------------------------------------------
mkdir -p "$results_dir"
host=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)
stem="$(date +%F)-$host"
[[ -e $results_dir/$stem.md ]] && stem="$stem-$(date +%H%M%S)"
report=$results_dir/$stem.md
raw=$results_dir/$stem.raw.tsv
printf 'row\trun\twall_s\tuser_s\tsys_s\tmax_rss_kib\texit\n' >"$raw"

note "warming the page cache"
cat "$l500" "$l500gz" "$l500zst" "$l200gz" "$l2ggz" >/dev/null

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
measure_failed=0
declare -A wall cpu rss bytes_of

# Runs one row: a warm-up, then $runs timed runs; records the medians. ok_exits lists the exit
# codes that count as success. A run with another exit code fails the row loudly.
measure() { # row ok_exits uncompressed_bytes command...
  local row=$1 ok_exits=$2 ubytes=$3; shift 3
  local i rc line tf=$work/time.txt ef=$work/stderr.txt
  bytes_of[$row]=$ubytes
  note "measuring: $row"
  for ((i = 0; i <= runs; i++)); do
    rc=0
    /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" </dev/null >/dev/null 2>"$ef" || rc=$?
    line=$(tail -n 1 "$tf")
    printf '%s\t%s\t%s\t%s\n' "$row" "$( ((i == 0)) && echo warmup || echo "$i")" \
      "$(tr ' ' '\t' <<<"$line")" "$rc" >>"$raw"
    if [[ " $ok_exits " != *" $rc "* ]]; then
      {
        echo "bench: ########################################################################"
        echo "bench: FAILED: '$row' exited $rc (success is: $ok_exits)"
        echo "bench: command: $*"
        echo "bench: last lines of its stderr:"
        tail -n 20 "$ef" | sed 's/^/bench:   /'
        echo "bench: ########################################################################"
      } >&2
      measure_failed=1
      wall[$row]=FAILED
      return 0
    fi
  done
  wall[$row]=$(median_of "$row" wall)
  cpu[$row]=$(median_of "$row" cpu)
  rss[$row]=$(median_of "$row" rss)
}

# Median over a row's timed runs (not the warm-up) of wall (s), cpu (user+sys s) or rss (KiB).
median_of() { # row wall|cpu|rss
  awk -F'\t' -v r="$1" -v f="$2" '$1 == r && $2 != "warmup" {
      print (f == "wall" ? $3 : f == "cpu" ? $4 + $5 : $6) }' "$raw" | sort -g |
    awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# --no-state: every run reads every layer (a state file would recall them).
scan=("$bin" scan --quiet --no-state --format json --output /dev/null "${scan_flags[@]}")
starter_ids=$(grep -v '^#' "$repo_root/bench/starter-rules.txt" | grep . | paste -sd, -)
rule_count=$("$bin" rules list --format json | python3 -c 'import json, sys; print(sum(r["enabled"] for r in json.load(sys.stdin)))')

readonly row_igzip="igzip -dc layer-500.tar.gz" row_zstd="zstd -dc layer-500.tar.zst"
readonly row_ls_gz="layersift layer-500.tar.gz" row_ls_zst="layersift layer-500.tar.zst"
readonly row_ls_200="layersift layer-200.tar.gz" row_ls_2g="layersift layer-2g.tar.gz"
readonly row_ls_starter="layersift layer-500.tar.gz, 20-rule starter set"
rows=("$row_igzip" "$row_zstd" "$row_ls_gz" "$row_ls_starter" "$row_ls_zst" "$row_ls_200" "$row_ls_2g")

measure "$row_igzip" "0" "$bytes_500" igzip -dc "$l500gz"
measure "$row_zstd" "0" "$bytes_500" zstd -q -dc "$l500zst"
# layersift exits 0 (no findings) or 1 (findings); 2 and 3 are errors.
measure "$row_ls_gz" "0 1" "$bytes_500" "${scan[@]}" "layer:$l500gz"
measure "$row_ls_starter" "0 1" "$bytes_500" "${scan[@]}" --only-rules "$starter_ids" "layer:$l500gz"
measure "$row_ls_zst" "0 1" "$bytes_500" "${scan[@]}" "layer:$l500zst"
measure "$row_ls_200" "0 1" "$bytes_200" "${scan[@]}" "layer:$l200gz"
measure "$row_ls_2g" "0 1" "$bytes_2g" "${scan[@]}" "layer:$l2ggz"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report -----------------------------------------------------------------------------------
any_check_failed=0
ok() { [[ ${wall[$1]:-FAILED} != FAILED ]]; }
rss_mib() { awk -v k="${rss[$1]}" 'BEGIN { printf "%.1f", k / 1024 }'; }

# check NAME VALUE-EXPRESSION LIMIT [GOAL] : prints a table row; VALUE empty = could not measure.
check() {
  local name=$1 value=$2 limit=$3 goal=${4:-} unit=${5:-} verdict shown
  shown=$value$unit
  if [[ -z $value ]]; then
    verdict="FAIL (not measured)"; shown="n/a"
  elif awk -v v="$value" -v l="$limit" 'BEGIN { exit !(v <= l) }'; then
    verdict=PASS
    if [[ -n $goal ]]; then
      awk -v v="$value" -v g="$goal" 'BEGIN { exit !(v <= g) }' &&
        verdict="PASS (goal ≤ $goal$unit met)" || verdict="PASS (goal ≤ $goal$unit not met)"
    fi
  else
    verdict=FAIL
  fi
  [[ $verdict == FAIL* ]] && any_check_failed=1
  printf '| %s | %s | ≤ %s%s | %s |\n' "$name" "$shown" "$limit" "$unit" "$verdict"
}

ratio() { ok "$1" && ok "$2" && awk -v a="${wall[$1]}" -v b="${wall[$2]}" 'BEGIN { printf "%.2f", a / b }' || true; }

rss_500=""
if ok "$row_ls_gz" && ok "$row_ls_zst"; then
  rss_500=$(awk -v a="${rss[$row_ls_gz]}" -v b="${rss[$row_ls_zst]}" 'BEGIN { m = a > b ? a : b; printf "%.1f", m / 1024 }')
fi
rss_growth=""
if ok "$row_ls_200" && ok "$row_ls_2g"; then
  rss_growth=$(awk -v a="${rss[$row_ls_2g]}" -v b="${rss[$row_ls_200]}" 'BEGIN { printf "%.1f", (a - b) * 100 / b }')
fi

layersift_version=$("$bin" --version </dev/null 2>/dev/null | head -n 1 || true)
commit=$(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo "no commit")
dirty=$(git -C "$repo_root" status --porcelain 2>/dev/null | grep -q . && echo " (uncommitted changes)" || true)

{
  echo "# layersift layer benchmark, $(date '+%F %T %Z') on $host"
  echo
  echo "## Machine"
  echo
  echo "- CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), nproc $(nproc)"
  echo "- memory: $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "- kernel: $(uname -srm)"
  echo "- load average before / after: $load_before / $load_after"
  echo "- layersift: \`$bin\`${layersift_version:+ ($layersift_version)}, repository at $commit$dirty"
  echo "- scan flags: \`scan --quiet --no-state --format json --output /dev/null${scan_flags[*]:+ ${scan_flags[*]}}\`"
  echo "- rule set: the $rule_count enabled built-in rules; the starter-set row adds \`--only-rules\` with bench/starter-rules.txt"
  echo "- baselines: $(igzip --version 2>&1 | head -n 1), $(zstd --version 2>&1 | head -n 1 | tr -d '*' | xargs)"
  echo "- method: median of $runs runs after 1 warm-up, page cache warm, \`/usr/bin/time\`;" \
    "MB = 10^6 bytes of uncompressed tar; raw runs in \`$stem.raw.tsv\` beside this report"
  echo
  echo "## Layers (cache: \`$cache\`)"
  echo
  layers_table
  echo
  composition_table
  echo
  echo "## Results"
  echo
  echo "| row | wall s (median) | user+sys CPU s | MB/s uncompressed | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|"
  for r in "${rows[@]}"; do
    if ok "$r"; then
      printf '| %s | %.3f | %.2f | %.0f | %s |\n' "$r" "${wall[$r]}" "${cpu[$r]}" \
        "$(awk -v b="${bytes_of[$r]}" -v w="${wall[$r]}" -v d="$kBytesPerMB" 'BEGIN { print (w > 0 ? b / d / w : 0) }')" \
        "$(rss_mib "$r")"
    else
      printf '| %s | **FAILED** (see stderr) | | | |\n' "$r"
    fi
  done
  echo
  echo "## Acceptance"
  echo
  echo "| check | value | limit | result |"
  echo "|---|---:|---:|---|"
  check "layersift gzip wall / igzip wall" "$(ratio "$row_ls_gz" "$row_igzip")" "$kMaxGzipRatio" "$kGoalGzipRatio"
  check "layersift zstd wall / zstd wall" "$(ratio "$row_ls_zst" "$row_zstd")" "$kMaxZstdRatio"
  check "layersift peak RSS, 500 MB layer (MiB)" "$rss_500" "$kMaxRss500MiB"
  check "peak RSS 2 GB vs 200 MB layer" "$rss_growth" "$kMaxRssGrowthPercent" "" "%"
  check "full rule set wall / starter set wall (≤ 1.25: ≥ 80% throughput)" \
    "$(ratio "$row_ls_gz" "$row_ls_starter")" "$kMaxFullVsStarterWallRatio"
  if ((measure_failed)); then
    echo
    echo "**A measured command failed (see the FAILED rows); its figures are missing.**"
  fi
} >"$work/report.md"

cp "$work/report.md" "$report"
cat "$report"
note "report: $report"
note "raw runs: $raw"

if ((measure_failed)); then
  note "FAILED: a measured command exited with an error; see above"
  exit 3
fi
((any_check_failed)) && exit 1
exit 0
