/** Options of one run, from the CLI and ansible.cfg. Passed in, never global. */
export interface RunnerOptions {
  check: boolean;
  diff: boolean;
  /**
   * Hosts worked on at once. Default 50, not Ansible's 5: a fork in Ansible is a Python
   * process per host, here a host in flight costs one exec channel on an already open
   * connection and a few KB of controller memory; 50 keeps 2 cores busy through
   * connection set-up while bounding open sockets during a 1000-host run.
   */
  forks: number;
  verbosity: number;
  extraVars: Record<string, unknown>;
  tags: string[];
  skipTags: string[];
  limit: string[] | undefined;
  forceHandlers: boolean;
  /** --step, --start-at-task */
  startAtTask?: string;
  /** CLI defaults for connection keywords (-u, -b, --become-user, --become-method, -K). */
  remoteUser?: string;
  become?: boolean;
  becomeUser?: string;
  becomeMethod?: string;
  becomePassword?: string;
  connectionPassword?: string;
  privateKeyFile?: string;
  connection?: string;
  timeoutSec?: number;
}

export const DEFAULT_FORKS = 50;

export function defaultRunnerOptions(): RunnerOptions {
  return {
    check: false,
    diff: false,
    forks: DEFAULT_FORKS,
    verbosity: 0,
    extraVars: {},
    tags: [],
    skipTags: [],
    limit: undefined,
    forceHandlers: false,
  };
}
