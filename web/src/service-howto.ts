// How to use a service of the directory, per type, with its address filled
// in: what the shipped apps (apps/*.json, docs/apps.md) really serve there
// and the lines a user copies into a client. Pure: the services page draws
// it. Must never promise what the apps do not do (an outside Syncthing
// device is not accepted; the tracker tracks only what its slice published).

import type { ServiceEntry } from './types.js';

export interface HowToLine {
  /** What the line is for, also the copy button's name. */
  label: string;
  /** The text to copy: a URL or a command. */
  text: string;
}

export interface HowTo {
  summary: string;
  lines: HowToLine[];
}

/** The playlist the video app serves on its hls services (origin and edges). */
const HLS_PLAYLIST = '/hls/live.m3u8';

/** The playlist at the service's community address: for players on the community network. */
export const streamUrlOf = (s: ServiceEntry): string => `http://${s.address}${HLS_PLAYLIST}`;

/**
 * The same playlist relayed by the gateway that serves the page
 * (GET /api/v1/services/…/stream/…), relative to the page's origin: it plays
 * wherever the page opens, through any bridge, on the community network or not.
 */
export const relayPathOf = (s: ServiceEntry): string =>
  `/api/v1/services/${[s.gateway, s.sliver, s.name].map(encodeURIComponent).join('/')}/stream${HLS_PLAYLIST}`;

/** The http service on the same sliver: the file-sharing app's catalog beside its tracker. */
const catalogOf = (tracker: ServiceEntry, all: readonly ServiceEntry[]): ServiceEntry | undefined =>
  all.find((e) => e.type === 'http' && e.sliver === tracker.sliver && e.gateway === tracker.gateway);

/**
 * The how-to for `s`, knowing the rest of the directory and the origin the
 * page was opened at (for URLs relayed by its gateway); undefined for types
 * with nothing to say beyond the address.
 */
export function howToUse(s: ServiceEntry, all: readonly ServiceEntry[], origin?: string): HowTo | undefined {
  switch (s.type) {
    case 'hls':
      return {
        summary: 'A live HLS stream (H.264 and AAC). Play it here, or in any player that opens HLS URLs: at its community address from the community network, '
          + 'or relayed by this gateway from wherever this page opens.',
        lines: [
          { label: 'Stream URL', text: streamUrlOf(s) },
          { label: 'Play with mpv', text: `mpv ${streamUrlOf(s)}` },
          ...(origin === undefined ? [] : [{ label: 'Stream URL through this gateway', text: `${origin}${relayPathOf(s)}` }]),
        ],
      };
    case 'bittorrent-tracker': {
      const catalog = catalogOf(s, all);
      const announce = s.protocol === 'udp' ? `udp://${s.address}/announce` : `http://${s.address}/announce`;
      return {
        summary: `A BitTorrent tracker (opentracker). It tracks only the torrents slice ${s.slice} published (hearth-publish FILE in one of its peers); `
          + 'any other announce is refused. Put its announce URL in a torrent client' + (catalog === undefined ? '.' : '; the torrents it tracks are listed in the catalog.'),
        lines: [
          { label: 'Announce URL', text: announce },
          ...(catalog === undefined ? [] : [{ label: 'Catalog of torrents', text: `http://${catalog.address}/torrents/` }]),
        ],
      };
    }
    case 'bittorrent':
      return {
        summary: `A BitTorrent peer (transmission) of slice ${s.slice}, seeding every file the slice published. `
          + 'A client that has one of those torrents may add it as a peer by its address.',
        lines: [{ label: 'Peer address', text: s.address }],
      };
    case 'webdav':
      return {
        summary: `A WebDAV share (nginx) of slice ${s.slice}, kept equal on every replica with Syncthing. It asks for no password: `
          + 'whoever reaches it may read and write. Mount it with davfs2 (press Enter at the user and password prompts), '
          + 'open it in a file manager, or put and get files with curl.',
        lines: [
          { label: 'Mount with davfs2', text: `sudo mount -t davfs http://${s.address}/ /mnt` },
          { label: 'File manager location', text: `dav://${s.address}/` },
          { label: 'Upload a file', text: `curl -T FILE http://${s.address}/FILE` },
          { label: 'Download a file', text: `curl -O http://${s.address}/FILE` },
        ],
      };
    case 'syncthing':
      return {
        summary: `The Syncthing port of a replica of slice ${s.slice}: the replicas keep their files equal through it. `
          + 'It accepts only the slice\'s own replicas (no other device is added), so reach the files through the slice\'s WebDAV share.',
        lines: [],
      };
    default:
      return undefined;
  }
}
