# Sourced by the scripts that need a Python tool from PyPI (moto.sh, deploy-lint.sh): one
# virtualenv for them all, $MYWP_VENV (default ~/.cache/mywp-venv).
#   venv_install DIST SPEC VERSION BIN   installs SPEC==VERSION unless distribution DIST is
#                                        at VERSION already and $venv/bin/BIN exists
venv="${MYWP_VENV:-$HOME/.cache/mywp-venv}"

venv_install() {
  local dist="$1" spec="$2" version="$3" bin="$4" installed
  installed="$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$dist'))" 2>/dev/null || true)"
  [ "$installed" = "$version" ] && [ -x "$venv/bin/$bin" ] && return 0
  # Debian 12 ships python3 without ensurepip: venvs need python3-venv.
  if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    printf 'venv: installing python3 and python3-venv\n' >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
  fi
  printf 'venv: installing %s==%s into %s\n' "$spec" "$version" "$venv" >&2
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$spec==$version"
}
