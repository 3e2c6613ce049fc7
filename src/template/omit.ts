/** Ansible's omit placeholder (`{{ omit }}`); module args equal to it are dropped by the runner. */
export const OMIT_VALUE = '__omit_place_holder__2b9d5ee8bd1cf7ad3ff7e3ed91d1b7c2f7c5d5d4';
