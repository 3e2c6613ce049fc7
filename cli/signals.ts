/**
 * Ctrl-C: the first SIGINT stops scheduling new tasks, lets the ones in flight finish and
 * prints the recap (exit 99, as Ansible); a second one closes connections and exits now.
 */
export function interruptible(forceClose: () => Promise<void>): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  const onInt = () => {
    if (!ctl.signal.aborted) {
      process.stderr.write('\n[drover] interrupted: finishing running tasks (Ctrl-C again to stop now)\n');
      ctl.abort();
      return;
    }
    void forceClose().finally(() => process.exit(99));
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  return {
    signal: ctl.signal,
    dispose: () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onInt);
    },
  };
}
