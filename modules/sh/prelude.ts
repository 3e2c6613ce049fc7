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
 */
export const SH_PRELUDE = String.raw`
DR_CHANGED=0
dr_out() { printf '%s=%s\n' "$1" "$2"; }
dr_b64() { base64 | tr -d '\n\r'; }
dr_out64() { printf '%s:b64=' "$1"; printf '%s' "$2" | dr_b64; printf '\n'; }
dr_outfile() { printf '%s:b64=' "$1"; dr_b64 < "$2"; printf '\n'; }
dr_fail() { dr_out64 msg "$1"; dr_out failed 1; exit 1; }
dr_sha1() {
  if command -v sha1sum >/dev/null 2>&1; then sha1sum < "$1" | cut -d' ' -f1
  elif command -v shasum >/dev/null 2>&1; then shasum -a 1 < "$1" | cut -d' ' -f1
  else openssl sha1 -r < "$1" | cut -d' ' -f1; fi
}
dr_sum() {
  case $2 in
    sha1) dr_sha1 "$1" ;;
    md5) md5sum < "$1" | cut -d' ' -f1 ;;
    *) "$2sum" < "$1" | cut -d' ' -f1 ;;
  esac
}
dr_type() {
  if [ -L "$1" ]; then echo link; elif [ -d "$1" ]; then echo directory
  elif [ -f "$1" ]; then echo file; elif [ -e "$1" ]; then echo other; else echo absent; fi
}
dr_octal() { printf '%04o' "$((0$1))"; }
dr_stat() {
  dr_st_t=$(dr_type "$2")
  dr_out "$1type" "$dr_st_t"
  [ "$dr_st_t" = absent ] && return 0
  # one stat call; user and group names cannot hold blanks, so they split cleanly
  dr_st_l=$(stat -c '%a %u %g %s %Y %X %h %i %U %G' -- "$2" 2>/dev/null)
  dr_st_p=$1
  if [ "$dr_st_t" = link ]; then dr_out64 "$1target" "$(readlink -- "$2")"; fi
  set -f
  set -- $dr_st_l
  set +f
  [ $# -ge 10 ] || return 0
  dr_out "$dr_st_p"stat "$1 $2 $3 $4 $5 $6 $7 $8"
  dr_out64 "$dr_st_p"owner "$9"
  shift 9
  dr_out64 "$dr_st_p"group "$1"
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
dr_attrs() {
  dr_a_p=$1
  if [ -n "$2" ]; then
    case $2 in *[!0-9]*) dr_a_cur=$(stat -c %U -- "$dr_a_p") ;; *) dr_a_cur=$(stat -c %u -- "$dr_a_p") ;; esac
    if [ "$dr_a_cur" != "$2" ]; then
      DR_CHANGED=1
      if [ "$CHECK" != 1 ]; then dr_a_err=$(chown -h "$2" "$dr_a_p" 2>&1) || dr_fail "chown failed: $dr_a_err"; fi
    fi
  fi
  if [ -n "$3" ]; then
    case $3 in *[!0-9]*) dr_a_cur=$(stat -c %G -- "$dr_a_p") ;; *) dr_a_cur=$(stat -c %g -- "$dr_a_p") ;; esac
    if [ "$dr_a_cur" != "$3" ]; then
      DR_CHANGED=1
      if [ "$CHECK" != 1 ]; then dr_a_err=$(chgrp -h "$3" "$dr_a_p" 2>&1) || dr_fail "chgrp failed: $dr_a_err"; fi
    fi
  fi
  if [ -n "$4" ] && [ ! -L "$dr_a_p" ]; then
    dr_a_want=$(dr_want_mode "$dr_a_p" "$4") || { printf '%s\n' "$dr_a_want"; exit 1; }
    dr_a_cur=$(dr_octal "$(stat -c %a -- "$dr_a_p")")
    if [ "$dr_a_cur" != "$dr_a_want" ]; then
      DR_CHANGED=1
      if [ "$CHECK" != 1 ]; then dr_a_err=$(chmod "$dr_a_want" "$dr_a_p" 2>&1) || dr_fail "chmod failed: $dr_a_err"; fi
    fi
  fi
  return 0
}
dr_backup() {
  dr_bk="$1.$$.$(date +%Y-%m-%d@%H:%M:%S)~"
  dr_bk_err=$(cp -p "$1" "$dr_bk" 2>&1) || dr_fail "Could not make backup of $1 to $dr_bk: $dr_bk_err"
  dr_out64 backup_file "$dr_bk"
}
dr_dirname() {
  case $1 in
    */*) dr_dn=${'$'}{1%/*}; [ -n "$dr_dn" ] || dr_dn=/; printf '%s' "$dr_dn" ;;
    *) printf . ;;
  esac
}
`;
