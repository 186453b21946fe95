# Sourced by the Python venv setup scripts (scripts/setup-python.sh, scripts/setup-python-clients.sh): the fast path
# when the venv's stamp matches what the script would install, and a lock so that concurrent runs (two test processes
# on a fresh machine) set the venv up once. Each script defines log() before sourcing this.

# True when the venv's python exists and its stamp file holds the wanted hash.
venv_up_to_date() { # <python> <stamp file> <wanted hash>
  [ -x "$1" ] && [ -f "$2" ] && [ "$(cat "$2")" = "$3" ]
}

# Prints the venv's python and ends the script when the venv is up to date, before or after waiting for the lock
# (held until the script ends); otherwise returns, holding the lock where flock exists.
venv_done_or_lock() { # <python> <stamp file> <wanted hash> <lock file>
  if venv_up_to_date "$1" "$2" "$3"; then
    log "up to date ($(dirname "$(dirname "$1")"))"
    echo "$1"
    exit 0
  fi
  mkdir -p "$(dirname "$4")"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$4"
    flock 9
    if venv_up_to_date "$1" "$2" "$3"; then
      log "up to date ($(dirname "$(dirname "$1")"), set up by a concurrent run)"
      echo "$1"
      exit 0
    fi
  fi
}
