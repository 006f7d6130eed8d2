# Shared by the staged recipes (quickstart, s2st): argument parsing, set-up, resumable stages.
# Source it after setting the defaults stage, stop_stage, exp, size; RECIPE_OPTS names extra
# options as "--flag:variable" pairs (e.g. "--quickstart:qs"); the help text is lines 2-6 of the recipe.

parse_recipe_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --stage) stage=$2; shift 2 ;;
      --stop-stage) stop_stage=$2; shift 2 ;;
      --exp) exp=$2; shift 2 ;;
      --size) size=$2; shift 2 ;;
      -h|--help) sed -n 2,6p "$0"; exit 0 ;;
      *)
        local o found=0
        for o in ${RECIPE_OPTS:-}; do
          if [ "$1" = "${o%%:*}" ]; then printf -v "${o#*:}" '%s' "$2"; found=1; fi
        done
        if [ "$found" = 1 ]; then shift 2; else echo "unknown argument $1" >&2; exit 2; fi ;;
    esac
  done
}

recipe_setup() {  # the venv of the README (skipped with AUDIOLM_NO_SETUP=1: tests, nested recipes)
  if [ "${AUDIOLM_NO_SETUP:-0}" != "1" ]; then
    bash scripts/setup_env.sh
    . .venv/bin/activate
  fi
}

run_stage() {  # run_stage N NAME COMMAND...: skipped outside --stage..--stop-stage or when done before
  local n=$1 name=$2; shift 2
  if [ "$n" -lt "$stage" ] || [ "$n" -gt "$stop_stage" ]; then return 0; fi
  if [ -f "$exp/.done.$n.$name" ]; then echo "== stage $n ($name): done already, skipping"; return 0; fi
  echo "== stage $n ($name)"
  local t0
  t0=$(date +%s)
  "$@"  # a failing stage (or a signal's exit status) ends the recipe under set -e: no .done marker
  printf "%s\t%s\t%s\n" "$n" "$name" "$(( $(date +%s) - t0 ))" >> "$exp/stage_times.tsv"
  touch "$exp/.done.$n.$name"
}
