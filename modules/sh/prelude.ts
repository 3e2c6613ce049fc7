/**
 * POSIX sh functions shared by module scripts (dash, busybox ash, bash in sh mode).
 * Only GNU coreutils / busybox forms are used: `stat -c`, `mktemp`, `base64`, `sha1sum`.
 * Every function writes its answers with the protocol of ./protocol.ts; stray command
 * output goes to stderr so it cannot be mistaken for an answer.
 *
 * Contract for scripts built with `shScript`:
 * - `CHECK` is 1 in check mode: functions that change things only report (`DR_CHANGED=1`).
 * - `DR_TMP` is a scratch directory on the target (for symbolic-mode computation).
 * - `DR_CHANGED` starts at 0 and becomes 1 when anything was (or would be) changed.
 *
 * Cost matters: on a busy target every fork and exec shows in the wall time of a run
 * (docs/performance.md). So the helpers use builtins where they can, set variables instead
 * of printing into `$(...)` (each command substitution forks), write plain values without
 * base64 when they need no escaping, and `dr_lstat` takes one `stat` per path and keeps it:
 * - `dr_lstat PATH` fills `DR_ST_*` (mode as `%a`, uid, gid, size, mtime, atime, nlink, inode,
 *   owner and group names) with one `stat` call, not following links. When the body set
 *   `DR_ST_TRUST=1` the result is reused for the same path until `dr_forget`; a body that sets
 *   it must call `dr_forget` after every change it makes to a path itself (the prelude's own
 *   helpers do). Without it every call stats afresh.
 * - `dr_typev`, `dr_dirv`, `dr_sum_of` set `DR_T`, `DR_DN`, `DR_SUM` (`dr_type`, `dr_dirname`,
 *   `dr_sha1`, `dr_sum` print the same for `$(...)` callers).
 */
export const SH_PRELUDE = String.raw`
DR_CHANGED=0
DR_ST_PATH=
DR_ST_TRUST=0
DR_NL='
'
dr_out() { printf '%s=%s\n' "$1" "$2"; }
dr_b64() { base64 | tr -d '\n\r'; }
dr_out64() {
  case $2 in
    *[!-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./@:+,=%~' ']*)
      printf '%s:b64=' "$1"; printf '%s' "$2" | dr_b64; printf '\n' ;;
    *) printf '%s=%s\n' "$1" "$2" ;;
  esac
}
dr_outfile() { printf '%s:b64=' "$1"; base64 -w 0 < "$2" 2>/dev/null || dr_b64 < "$2"; printf '\n'; }
dr_fail() { dr_out64 msg "$1"; dr_out failed 1; exit 1; }
dr_sum_of() {
  case $2 in
    sha1)
      if command -v sha1sum >/dev/null 2>&1; then DR_SUM=$(sha1sum < "$1")
      elif command -v shasum >/dev/null 2>&1; then DR_SUM=$(shasum -a 1 < "$1")
      else DR_SUM=$(openssl sha1 -r < "$1"); fi ;;
    *) DR_SUM=$("$2sum" < "$1") ;;
  esac
  DR_SUM=${'$'}{DR_SUM%% *}
}
dr_sha1() { dr_sum_of "$1" sha1; printf '%s\n' "$DR_SUM"; }
dr_sum() { dr_sum_of "$1" "$2"; printf '%s\n' "$DR_SUM"; }
dr_typev() {
  if [ -L "$1" ]; then DR_T=link; elif [ -d "$1" ]; then DR_T=directory
  elif [ -f "$1" ]; then DR_T=file; elif [ -e "$1" ]; then DR_T=other; else DR_T=absent; fi
}
dr_type() { dr_typev "$1"; echo "$DR_T"; }
dr_octal() { printf '%04o' "$((0$1))"; }
dr_forget() { DR_ST_PATH=; }
dr_lstat() {
  [ "$DR_ST_TRUST" = 1 ] && [ "$DR_ST_PATH" = "$1" ] && [ -n "$1" ] && return 0
  DR_ST_PATH=
  DR_ST_MODE= DR_ST_UID= DR_ST_GID= DR_ST_SIZE= DR_ST_MT= DR_ST_AT= DR_ST_NLINK= DR_ST_INO= DR_ST_U= DR_ST_G=
  dr_st_p=$1
  # numbers on the first line, the names on their own lines (a name may hold a blank)
  dr_st_l=$(stat -c '%a %u %g %s %Y %X %h %i
%U
%G' -- "$1" 2>/dev/null) || return 1
  dr_st_ifs=$IFS; IFS=$DR_NL; set -f
  set -- $dr_st_l
  IFS=$dr_st_ifs
  [ $# -ge 3 ] || { set +f; return 1; }
  DR_ST_U=$2 DR_ST_G=$3
  set -- $1
  set +f
  [ $# -ge 8 ] || return 1
  DR_ST_MODE=$1 DR_ST_UID=$2 DR_ST_GID=$3 DR_ST_SIZE=$4 DR_ST_MT=$5 DR_ST_AT=$6 DR_ST_NLINK=$7 DR_ST_INO=$8
  DR_ST_PATH=$dr_st_p
}
dr_stat() {
  dr_typev "$2"
  dr_out "$1type" "$DR_T"
  [ "$DR_T" = absent ] && return 0
  if [ "$DR_T" = link ]; then dr_out64 "$1target" "$(readlink -- "$2")"; fi
  dr_lstat "$2" || return 0
  dr_out "$1stat" "$DR_ST_MODE $DR_ST_UID $DR_ST_GID $DR_ST_SIZE $DR_ST_MT $DR_ST_AT $DR_ST_NLINK $DR_ST_INO"
  dr_out64 "$1owner" "$DR_ST_U"
  dr_out64 "$1group" "$DR_ST_G"
}
dr_mkscratch() {
  if [ "$1" = directory ]; then mktemp -d "$DR_TMP/.drover-mode.XXXXXX"; else mktemp "$DR_TMP/.drover-mode.XXXXXX"; fi
}
dr_want_mode() {
  case $2 in
    *[!0-7]*)
      dr_wm_s=$(dr_mkscratch "$(dr_type "$1")") || dr_fail "cannot create a scratch file in $DR_TMP"
      chmod "$(stat -c %a -- "$1")" "$dr_wm_s" && chmod "$2" "$dr_wm_s" >&2 || { rm -rf "$dr_wm_s"; dr_fail "bad symbolic mode: $2"; }
      dr_octal "$(stat -c %a -- "$dr_wm_s")"; rm -rf "$dr_wm_s" ;;
    *) dr_octal "$2" ;;
  esac
}
dr_pad4() {
  case $1 in
    ?) DR_O=000$1 ;; ??) DR_O=00$1 ;; ???) DR_O=0$1 ;; *) DR_O=$1 ;;
  esac
}
dr_attrs() {
  [ -n "$2$3$4" ] || return 0
  dr_a_p=$1
  dr_lstat "$dr_a_p"
  if [ -n "$2" ]; then
    case $2 in *[!0-9]*) dr_a_cur=$DR_ST_U ;; *) dr_a_cur=$DR_ST_UID ;; esac
    if [ "$dr_a_cur" != "$2" ]; then
      DR_CHANGED=1
      [ "$DR_AD" = 1 ] && dr_ad owner "$DR_ST_UID" "$2"
      if [ "$CHECK" != 1 ]; then dr_forget; dr_a_err=$(chown -h "$2" "$dr_a_p" 2>&1) || dr_fail "chown failed: $dr_a_err"; fi
    fi
  fi
  if [ -n "$3" ]; then
    dr_lstat "$dr_a_p"
    case $3 in *[!0-9]*) dr_a_cur=$DR_ST_G ;; *) dr_a_cur=$DR_ST_GID ;; esac
    if [ "$dr_a_cur" != "$3" ]; then
      DR_CHANGED=1
      [ "$DR_AD" = 1 ] && dr_ad group "$DR_ST_GID" "$3"
      if [ "$CHECK" != 1 ]; then dr_forget; dr_a_err=$(chgrp -h "$3" "$dr_a_p" 2>&1) || dr_fail "chgrp failed: $dr_a_err"; fi
    fi
  fi
  if [ -n "$4" ] && [ ! -L "$dr_a_p" ]; then
    case $4 in
      [0-7][0-7][0-7][0-7]) dr_a_want=$4 ;;
      *) dr_a_want=$(dr_want_mode "$dr_a_p" "$4") || { printf '%s\n' "$dr_a_want"; exit 1; } ;;
    esac
    dr_lstat "$dr_a_p"
    dr_pad4 "$DR_ST_MODE"
    if [ "$DR_O" != "$dr_a_want" ]; then
      DR_CHANGED=1
      [ "$DR_AD" = 1 ] && DR_AD_mode="0${'$'}{DR_O#0} 0${'$'}{dr_a_want#0}"
      if [ "$CHECK" != 1 ]; then
        dr_a_err=$(chmod "$dr_a_want" "$dr_a_p" 2>&1) || { dr_forget; dr_fail "chmod failed: $dr_a_err"; }
        [ "$DR_ST_PATH" = "$dr_a_p" ] && DR_ST_MODE=$dr_a_want
      fi
    fi
  fi
  return 0
}
dr_ad() {
  # DR_AD=1: remember "before after" of an owner/group change, as Ansible's
  # set_*_if_different(diff=...) does (ids, the last change wins); dr_ad_out answers them
  case $3 in
    *[!0-9]*) if [ "$1" = owner ]; then dr_ad_n=$(id -u "$3" 2>/dev/null); else dr_ad_n=$(getent group "$3" | cut -d: -f3); fi ;;
    *) dr_ad_n=$3 ;;
  esac
  eval "DR_AD_$1=\"\$2 \$dr_ad_n\""
}
dr_ad_out() {
  [ -n "$DR_AD_owner" ] && dr_out attr.owner "$DR_AD_owner"
  [ -n "$DR_AD_group" ] && dr_out attr.group "$DR_AD_group"
  [ -n "$DR_AD_mode" ] && dr_out attr.mode "$DR_AD_mode"
  return 0
}
dr_backup() {
  dr_bk="$1.$$.$(date +%Y-%m-%d@%H:%M:%S)~"
  dr_bk_err=$(cp -p "$1" "$dr_bk" 2>&1) || dr_fail "Could not make backup of $1 to $dr_bk: $dr_bk_err"
  dr_out64 backup_file "$dr_bk"
}
dr_dirv() {
  case $1 in
    */*) DR_DN=${'$'}{1%/*}; [ -n "$DR_DN" ] || DR_DN=/ ;;
    *) DR_DN=. ;;
  esac
}
dr_dirname() { dr_dirv "$1"; printf '%s' "$DR_DN"; }
`;
