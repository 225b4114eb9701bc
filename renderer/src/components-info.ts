import type { Component } from '../../shared/components.js';

/** What each component is, for people who did not read the guide. */
export const COMPONENT_INFO: Record<Component, { label: string; description: string }> = {
  account: { label: 'Accounts', description: 'account.sqlite — users, sessions, passwords, invite codes' },
  sequencer: { label: 'Event sequence', description: 'sequencer.sqlite — the commit stream other servers follow' },
  did_cache: { label: 'DID cache', description: 'did_cache.sqlite — cached identities; can be rebuilt' },
  blobs: { label: 'Media', description: 'blobs/ — uploaded images, videos and files' },
  actors: { label: 'Repositories', description: 'actors/ — every account’s posts, follows and signing key' },
};
