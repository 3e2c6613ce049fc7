/**
 * File and text module scenarios (test/e2e/modules-corpus.test.ts, files suite). Every scenario works on
 * its own paths: in check mode no task sees another's changes.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Scenario } from './harness.js';

const CONF = '# comment\nListen 80\nServerName old\n#Port 22\nPort 2222\nlast line\n';
/** A starting config file for a text-edit scenario. */
const conf = (path: string, text = CONF) => `mkdir -p "$(dirname ${path})"; printf '%s' '${text}' > ${path}`;
/** Mode, owner and content (or link target) of each path, for the twin comparison. */
const show = (...paths: string[]) =>
  paths
    .map(
      (p) =>
        `if [ -L ${p} ]; then stat -c '%n %F %U:%G ->' ${p}; readlink ${p}; elif [ -d ${p} ]; then find ${p} | sort | while read -r f; do stat -c '%n %F %a %U:%G' "$f"; [ -f "$f" ] && cat "$f"; done; else stat -c '%n %F %a %U:%G %h' ${p} && cat ${p}; fi`,
    )
    .join('; ');

/** Controller-side sources: copy src file and tree, a template, archives. */
export function filesController(work: string): void {
  const f = join(work, 'files');
  mkdirSync(join(f, 'tree/sub dir'), { recursive: true });
  writeFileSync(join(f, 'app.conf'), 'port=8080\nname="drover $USER"\n');
  writeFileSync(join(f, 'tree/a.conf'), 'a=1\n');
  writeFileSync(join(f, 'tree/sub dir/b $x.conf'), 'b\n');
  writeFileSync(join(f, 'tree/run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(f, 'tree/run.sh'), 0o750);
  mkdirSync(join(work, 'templates'));
  writeFileSync(
    join(work, 'templates/app.ini.j2'),
    '[main]\nname = {{ app_name }}\n{% for p in ports %}\nport = {{ p }}\n{% endfor %}\nhost = {{ inventory_hostname | length }}\n',
  );
  // Archives: member order and metadata are fixed so both tools get identical bytes.
  const src = join(work, 'arch');
  mkdirSync(join(src, 'pkg/bin'), { recursive: true });
  writeFileSync(join(src, 'pkg/README'), 'read me\n');
  writeFileSync(join(src, 'pkg/bin/tool'), '#!/bin/sh\n');
  chmodSync(join(src, 'pkg/bin/tool'), 0o755);
  const tar = (out: string, flag: string) =>
    execFileSync('tar', [
      flag,
      '-cf',
      join(f, out),
      '--owner=0',
      '--group=0',
      '--sort=name',
      '-C',
      src,
      'pkg',
    ]);
  tar('pkg.tar.gz', '-z');
  tar('pkg.tar.xz', '-J');
  execFileSync('zip', ['-qrX', join(f, 'pkg.zip'), 'pkg'], { cwd: src });
}

export const FILE_SCENARIOS: Scenario[] = [
  // copy
  {
    id: 'copy content',
    module: 'copy',
    args: { content: 'hello $HOME `x`\n', dest: '/srv/copy/content.txt', mode: '0640' },
    setup: 'mkdir -p /srv/copy',
    expect: show('/srv/copy/content.txt'),
    contains: ['640 root:root', 'hello $HOME `x`'],
  },
  {
    id: 'copy src file, owner/group, symbolic mode',
    module: 'copy',
    args: {
      src: 'files/app.conf',
      dest: '/srv/copy/app.conf',
      owner: 'drover',
      group: 'drover',
      mode: 'u=rw,g=r,o=',
    },
    setup: 'mkdir -p /srv/copy',
    expect: show('/srv/copy/app.conf'),
    contains: ['640 drover:drover', 'port=8080'],
  },
  {
    id: 'copy src tree (contents, trailing slash)',
    module: 'copy',
    args: { src: 'files/tree/', dest: '/srv/copytree/' },
    expect: show('/srv/copytree'),
    contains: ['/srv/copytree/sub dir/b $x.conf'],
  },
  {
    id: 'copy src tree (the dir itself)',
    module: 'copy',
    args: { src: 'files/tree', dest: '/srv/copytree2', directory_mode: '0755' },
    setup: 'mkdir -p /srv/copytree2',
    expect: show('/srv/copytree2'),
    contains: ['/srv/copytree2/tree/run.sh'],
  },
  {
    id: 'copy remote_src',
    module: 'copy',
    args: { src: '/srv/rsrc/in.txt', dest: '/srv/rsrc/out.txt', remote_src: true, mode: 'preserve' },
    setup: 'mkdir -p /srv/rsrc; printf "remote\\n" > /srv/rsrc/in.txt; chmod 604 /srv/rsrc/in.txt',
    expect: show('/srv/rsrc/out.txt'),
    contains: ['604', 'remote'],
  },
  {
    id: 'copy backup',
    module: 'copy',
    args: { content: 'new\n', dest: '/srv/bk/b.txt', backup: true },
    setup: 'mkdir -p /srv/bk; echo old > /srv/bk/b.txt',
    expect:
      'cd /srv/bk && for f in *; do echo "$f" | sed "s/[.][0-9]*[.][0-9-]*@[0-9:]*~$/.BACKUP~/"; cat "$f"; done',
    contains: ['b.txt.BACKUP~\nold\n', 'b.txt\nnew\n'],
    result: (r) => {
      if (!String(r.backup_file).startsWith('/srv/bk/b.txt.'))
        throw new Error(`backup_file ${String(r.backup_file)}`);
    },
  },
  {
    id: 'copy validate',
    module: 'copy',
    args: { content: 'key=1\n', dest: '/srv/val/v.conf', validate: 'grep -q key= %s' },
    setup: 'mkdir -p /srv/val',
    expect: show('/srv/val/v.conf'),
  },
  {
    id: 'copy validate fails, old file kept',
    module: 'copy',
    args: { content: 'broken\n', dest: '/srv/val/keep.conf', validate: 'grep -q key= %s' },
    setup: 'mkdir -p /srv/val; echo key=old > /srv/val/keep.conf',
    expect: show('/srv/val/keep.conf'),
    contains: ['key=old'],
    run: 'failed',
    rerun: 'failed',
  },
  {
    id: 'copy force=no keeps an existing file',
    module: 'copy',
    args: { content: 'other\n', dest: '/srv/force/f.txt', force: false },
    setup: 'mkdir -p /srv/force; echo keep > /srv/force/f.txt',
    expect: show('/srv/force/f.txt'),
    contains: ['keep'],
    check: 'ok',
    run: 'ok',
  },
  {
    id: 'copy same content, symbolic mode change only',
    module: 'copy',
    args: { content: 'same\n', dest: '/srv/mode/m.txt', mode: 'u+x,g-w,o=r' },
    setup: 'mkdir -p /srv/mode; echo same > /srv/mode/m.txt; chmod 664 /srv/mode/m.txt',
    expect: show('/srv/mode/m.txt'),
    contains: ['744'],
  },
  {
    id: 'copy src file into a directory (dest ends with /)',
    module: 'copy',
    args: { src: 'files/app.conf', dest: '/srv/intodir/' },
    expect: show('/srv/intodir'),
    contains: ['/srv/intodir/app.conf regular file 644'],
  },
  {
    id: 'copy with become_user drover',
    module: 'copy',
    args: { content: 'mine\n', dest: '/home/drover/become.txt', mode: '0600' },
    keywords: { become: true, become_user: 'drover' },
    expect: show('/home/drover/become.txt'),
    contains: ['600 drover:drover'],
  },
  // template
  {
    id: 'template',
    module: 'template',
    args: { src: 'app.ini.j2', dest: '/srv/tpl/app.ini', mode: '0644' },
    keywords: { vars: { app_name: "drover's app", ports: [80, 443] } },
    setup: 'mkdir -p /srv/tpl; printf "[main]\\nname = old\\n" > /srv/tpl/app.ini',
    expect: show('/srv/tpl/app.ini'),
    contains: ["name = drover's app", 'port = 443'],
  },
  // file
  {
    id: 'file directory (parents, mode)',
    module: 'file',
    args: { path: '/srv/file/d/sub', state: 'directory', mode: '0750' },
    expect: show('/srv/file/d/sub'),
    contains: ['750'],
  },
  {
    id: 'file state=file mode',
    module: 'file',
    args: { path: '/srv/file/m', mode: 'u=rw,go=' },
    setup: 'mkdir -p /srv/file; touch /srv/file/m; chmod 644 /srv/file/m',
    expect: show('/srv/file/m'),
    contains: ['600'],
  },
  {
    id: 'file touch (changes on every run, as Ansible)',
    module: 'file',
    args: { path: '/srv/file/touched', state: 'touch', mode: '0600' },
    setup: 'mkdir -p /srv/file',
    expect: 'stat -c "%n %a" /srv/file/touched',
    rerun: 'changed',
  },
  {
    id: 'file link',
    module: 'file',
    args: { src: '/srv/file/target', dest: '/srv/file/link', state: 'link' },
    setup: 'mkdir -p /srv/file; echo t > /srv/file/target',
    expect: show('/srv/file/link'),
    contains: ['/srv/file/target'],
  },
  {
    id: 'file hard',
    module: 'file',
    args: { src: '/srv/file/htarget', dest: '/srv/file/hard', state: 'hard' },
    setup: 'mkdir -p /srv/file; echo h > /srv/file/htarget',
    expect: show('/srv/file/hard'),
    contains: ['regular file 644 root:root 2'],
  },
  {
    id: 'file absent (a tree)',
    module: 'file',
    args: { path: '/srv/file/gone', state: 'absent' },
    setup: 'mkdir -p /srv/file/gone/a/b; echo x > /srv/file/gone/a/f',
    expect: 'ls -a /srv/file/gone 2>&1 || true',
    contains: ['No such file'],
  },
  {
    id: 'file absent (a file)',
    module: 'file',
    args: { path: '/srv/file/old.txt', state: 'absent' },
    setup: 'mkdir -p /srv/file; echo old > /srv/file/old.txt',
    expect: 'ls /srv/file/old.txt 2>&1 | sed "s/.*: //"',
    contains: ['No such file or directory'],
  },
  {
    id: 'file recurse owner and X mode',
    module: 'file',
    args: { path: '/srv/rec', state: 'directory', recurse: true, owner: 'drover', mode: 'u=rwX,g=rX,o=' },
    setup: 'mkdir -p /srv/rec/a/b; echo 1 > /srv/rec/a/f; echo 2 > /srv/rec/a/b/g; chmod 755 /srv/rec/a/b/g',
    expect: show('/srv/rec'),
    contains: ['/srv/rec/a/f regular file 640 drover:root', '/srv/rec/a/b/g regular file 750 drover:root'],
  },
  // lineinfile
  {
    id: 'lineinfile regexp',
    module: 'lineinfile',
    args: { path: '/srv/li/regexp', regexp: '^Listen ', line: 'Listen 8080' },
    setup: conf('/srv/li/regexp'),
    expect: show('/srv/li/regexp'),
    contains: ['Listen 8080'],
  },
  {
    id: 'lineinfile insertafter',
    module: 'lineinfile',
    args: { path: '/srv/li/after', line: 'Added', insertafter: '^Listen' },
    setup: conf('/srv/li/after'),
    expect: show('/srv/li/after'),
  },
  {
    id: 'lineinfile insertbefore',
    module: 'lineinfile',
    args: { path: '/srv/li/before', line: 'Before', insertbefore: '^ServerName' },
    setup: conf('/srv/li/before'),
    expect: show('/srv/li/before'),
  },
  {
    id: 'lineinfile insertbefore BOF',
    module: 'lineinfile',
    args: { path: '/srv/li/bof', line: '# top', insertbefore: 'BOF' },
    setup: conf('/srv/li/bof'),
    expect: show('/srv/li/bof'),
  },
  {
    id: 'lineinfile insertafter EOF (no final newline)',
    module: 'lineinfile',
    args: { path: '/srv/li/eof', line: 'delta', insertafter: 'EOF' },
    setup: conf('/srv/li/eof', 'alpha\nbeta\ngamma'),
    expect: show('/srv/li/eof'),
  },
  {
    id: 'lineinfile backrefs',
    module: 'lineinfile',
    args: {
      path: '/srv/li/backrefs',
      regexp: '^(?P<k>Port) 2222$',
      line: '\\g<k> \\g<k>2200',
      backrefs: true,
    },
    setup: conf('/srv/li/backrefs'),
    expect: show('/srv/li/backrefs'),
    contains: ['Port Port2200'],
  },
  {
    id: 'lineinfile search_string',
    module: 'lineinfile',
    args: { path: '/srv/li/search', search_string: 'ServerName old', line: 'ServerName new.example' },
    setup: conf('/srv/li/search'),
    expect: show('/srv/li/search'),
    contains: ['ServerName new.example'],
  },
  {
    id: 'lineinfile create',
    module: 'lineinfile',
    args: { path: '/srv/li/new/created', line: 'first', create: true, mode: '0600' },
    setup: 'mkdir -p /srv/li/new',
    expect: show('/srv/li/new/created'),
  },
  {
    id: 'lineinfile absent',
    module: 'lineinfile',
    args: { path: '/srv/li/absent', regexp: 'Port', state: 'absent' },
    setup: conf('/srv/li/absent'),
    expect: show('/srv/li/absent'),
  },
  {
    id: 'lineinfile firstmatch',
    module: 'lineinfile',
    args: { path: '/srv/li/first', line: 'X', insertafter: 'Port', firstmatch: true },
    setup: conf('/srv/li/first'),
    expect: show('/srv/li/first'),
  },
  {
    id: 'lineinfile unchanged line, mode and owner change',
    module: 'lineinfile',
    args: { path: '/srv/li/attrs', line: 'Listen 80', mode: '0600', owner: 'drover' },
    setup: conf('/srv/li/attrs'),
    expect: show('/srv/li/attrs'),
    contains: ['600 drover:root'],
  },
  // blockinfile
  {
    id: 'blockinfile',
    module: 'blockinfile',
    args: { path: '/srv/bi/conf', block: 'a=1\nb="$x"', insertafter: '^Listen' },
    setup: conf('/srv/bi/conf'),
    expect: show('/srv/bi/conf'),
    contains: ['# BEGIN ANSIBLE MANAGED BLOCK'],
  },
  {
    id: 'blockinfile custom marker, BOF, create',
    module: 'blockinfile',
    args: { path: '/srv/bi/new', block: 'x', marker: ';; {mark} drover', insertbefore: 'BOF', create: true },
    setup: 'mkdir -p /srv/bi',
    expect: show('/srv/bi/new'),
  },
  {
    id: 'blockinfile with a symbolic mode',
    module: 'blockinfile',
    args: { path: '/srv/bi/mode', block: 'm=1', mode: 'g+w' },
    setup: conf('/srv/bi/mode'),
    expect: show('/srv/bi/mode'),
    contains: ['664'],
  },
  {
    id: 'blockinfile absent',
    module: 'blockinfile',
    args: { path: '/srv/bi/rm', state: 'absent' },
    setup: conf(
      '/srv/bi/rm',
      'top\n# BEGIN ANSIBLE MANAGED BLOCK\nold\n# END ANSIBLE MANAGED BLOCK\nbottom\n',
    ),
    expect: show('/srv/bi/rm'),
  },
  // replace
  {
    id: 'replace with after/before',
    module: 'replace',
    args: {
      path: '/srv/rp/conf',
      regexp: '^(#?)Port 2(\\d+)$',
      replace: '\\1Port 9\\2',
      after: 'ServerName',
      before: 'last',
    },
    setup: conf('/srv/rp/conf'),
    expect: show('/srv/rp/conf'),
    contains: ['#Port 92\n', 'Port 9222\n'],
  },
  {
    id: 'replace without a match (ok)',
    module: 'replace',
    args: { path: '/srv/rp/none', regexp: '^Nothing here$', replace: 'x' },
    setup: conf('/srv/rp/none'),
    expect: show('/srv/rp/none'),
    check: 'ok',
    run: 'ok',
  },
  // ini_file
  {
    id: 'ini_file create',
    module: 'ini_file',
    args: { path: '/srv/ini/app.ini', section: 'main', option: 'key', value: 'v a l', mode: '0600' },
    setup: 'mkdir -p /srv/ini',
    expect: show('/srv/ini/app.ini'),
  },
  {
    id: 'ini_file change existing',
    module: 'ini_file',
    args: { path: '/srv/ini/old.ini', section: 'db', option: 'port', value: '5433', no_extra_spaces: true },
    setup: 'mkdir -p /srv/ini; printf "[db]\\nhost=x\\nport=5432\\n" > /srv/ini/old.ini',
    expect: show('/srv/ini/old.ini'),
  },
  // read-only modules: never changed
  {
    id: 'stat',
    module: 'stat',
    args: { path: '/srv/ro/f', checksum_algorithm: 'sha256' },
    setup: 'mkdir -p /srv/ro; printf data > /srv/ro/f',
    check: 'ok',
    run: 'ok',
    result: (r) => {
      const st = r.stat as Record<string, unknown>;
      if (st.checksum !== '3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7' || st.size !== 4)
        throw new Error(JSON.stringify(st));
    },
  },
  {
    id: 'slurp',
    module: 'slurp',
    args: { src: '/srv/ro/s' },
    setup: 'mkdir -p /srv/ro; printf "a\\0b" > /srv/ro/s',
    check: 'ok',
    run: 'ok',
    result: (r) => {
      if (r.content !== 'YQBi' || r.encoding !== 'base64') throw new Error(JSON.stringify(r));
    },
  },
  {
    id: 'find',
    module: 'find',
    args: { paths: '/srv/find', patterns: '*.log', recurse: true, size: '1' },
    setup:
      'mkdir -p /srv/find/a; echo 1 > /srv/find/x.log; echo 2 > /srv/find/a/y.log; : > /srv/find/empty.log; echo > /srv/find/z.txt',
    check: 'ok',
    run: 'ok',
    result: (r) => {
      const paths = (r.files as { path: string }[]).map((f) => f.path).sort();
      if (JSON.stringify(paths) !== '["/srv/find/a/y.log","/srv/find/x.log"]')
        throw new Error(JSON.stringify(paths));
    },
  },
  {
    id: 'fetch',
    module: 'fetch',
    args: { src: '/srv/fetch/data.txt', dest: '{{ work }}/fetched/' },
    // ansible-core skips fetch in check mode ("check mode not (yet) supported"); drover
    // compares checksums and reports what a real run would do, writing nothing.
    ansibleCheck: 'skipped',
    setup: 'mkdir -p /srv/fetch; echo fetched > /srv/fetch/data.txt',
  },
  {
    id: 'fetch flat',
    module: 'fetch',
    args: { src: '/srv/fetch/data.txt', dest: '{{ work }}/flat.txt', flat: true },
    ansibleCheck: 'skipped',
    setup: 'mkdir -p /srv/fetch; echo fetched > /srv/fetch/data.txt',
  },
  {
    id: 'assemble remote_src',
    module: 'assemble',
    args: { src: '/srv/frag', dest: '/srv/asm/out.conf', delimiter: '# --', mode: '0640' },
    setup:
      'mkdir -p /srv/frag /srv/asm; echo one > /srv/frag/10-a; echo two > /srv/frag/20-b; echo hidden > /srv/frag/.h',
    expect: show('/srv/asm/out.conf'),
    check: 'skipped',
  },
  {
    id: 'tempfile',
    module: 'tempfile',
    args: { state: 'directory', suffix: '.drover', path: '/srv' },
    check: 'skipped',
    rerun: 'changed',
    result: (r) => {
      if (!/^\/srv\/ansible\.\w+\.drover$/.test(String(r.path))) throw new Error(String(r.path));
    },
  },
  // unarchive
  {
    id: 'unarchive tar.gz from the controller',
    module: 'unarchive',
    args: { src: 'files/pkg.tar.gz', dest: '/srv/ua/gz' },
    // ansible-core's tar handler skips check mode ("does not support check mode when using
    // gtar"); drover compares the members and reports the change, writing nothing.
    ansibleCheck: 'skipped',
    setup: 'mkdir -p /srv/ua/gz',
    expect: show('/srv/ua/gz'),
    contains: ['/srv/ua/gz/pkg/bin/tool regular file 755'],
  },
  {
    id: 'unarchive zip from the controller',
    module: 'unarchive',
    args: { src: 'files/pkg.zip', dest: '/srv/ua/zip' },
    setup: 'mkdir -p /srv/ua/zip',
    expect: show('/srv/ua/zip'),
  },
  {
    id: 'unarchive tar.xz remote_src',
    module: 'unarchive',
    args: { src: '/srv/ua/pkg.tar.xz', dest: '/srv/ua/xz', remote_src: true },
    ansibleCheck: 'skipped',
    setup:
      'mkdir -p /srv/ua/xz /srv/ua/s/pkg; echo r > /srv/ua/s/pkg/R; tar -cJf /srv/ua/pkg.tar.xz -C /srv/ua/s pkg',
    expect: show('/srv/ua/xz'),
  },
  {
    id: 'unarchive tar.gz with owner and mode',
    module: 'unarchive',
    args: { src: 'files/pkg.tar.gz', dest: '/srv/ua/own', owner: 'drover', mode: 'u=rwX,g=rX,o=' },
    setup: 'mkdir -p /srv/ua/own',
    expect: show('/srv/ua/own'),
    contains: ['/srv/ua/own/pkg/README regular file 640 drover:root'],
    ansibleCheck: 'skipped',
  },
  {
    id: 'unarchive creates (exists: nothing to do)',
    module: 'unarchive',
    args: { src: 'files/pkg.tar.gz', dest: '/srv/ua/cr', creates: '/srv/ua/cr/marker' },
    setup: 'mkdir -p /srv/ua/cr; touch /srv/ua/cr/marker',
    expect: 'ls /srv/ua/cr',
    check: 'skipped',
    run: 'skipped',
    rerun: 'skipped',
  },
];
