// A live HLS stream in a <video> element: hls.js (its light build, enough
// for one H.264/AAC rendition) feeds Media Source Extensions; a browser
// without MSE but with HLS of its own (Safari on iOS) plays the URL itself.
// Loaded only when a stream is played, so the first page stays small.
// Must never: leave hls.js loading after close, or keep a fatal error quiet.

import Hls from 'hls.js/light';

export type PlayerState =
  | { kind: 'loading' }
  | { kind: 'playing' }
  /** Loaded, but the browser would not start it without a press on the video's own play control. */
  | { kind: 'paused' }
  | { kind: 'failed'; reason: string };

export interface PlayerHandle {
  close(): void;
}

/** Why a fatal hls.js error stopped the stream, in the user's terms. */
function reasonOf(url: string, type: string, details: string, status: number | undefined): string {
  if (type === Hls.ErrorTypes.NETWORK_ERROR) {
    const answered = status !== undefined && status > 0 ? `it answered HTTP ${status}` : 'no answer, or one this page may not read (the server unreachable from this browser, or no CORS header)';
    return `could not load ${url}: ${answered} (${details})`;
  }
  if (type === Hls.ErrorTypes.MEDIA_ERROR) return `the browser could not decode the stream (${details})`;
  return `the stream stopped (${type}: ${details})`;
}

export function playStream(video: HTMLVideoElement, url: string, onState: (s: PlayerState) => void): PlayerHandle {
  const start = (): void => {
    video.play().then(() => onState({ kind: 'playing' }), () => onState({ kind: 'paused' }));
  };
  if (!Hls.isSupported()) {
    if (video.canPlayType('application/vnd.apple.mpegurl') === '') {
      onState({ kind: 'failed', reason: 'this browser plays no HLS: it has neither Media Source Extensions nor HLS of its own' });
      return { close: () => undefined };
    }
    const onError = (): void => onState({ kind: 'failed', reason: `could not play ${url} (media error ${video.error?.code ?? '?'})` });
    video.addEventListener('error', onError);
    video.src = url;
    start();
    return {
      close: () => {
        video.removeEventListener('error', onError);
        video.removeAttribute('src');
        video.load();
      },
    };
  }
  const hls = new Hls({ lowLatencyMode: false });
  let mediaRecoveries = 0;
  hls.on(Hls.Events.MANIFEST_PARSED, start);
  hls.on(Hls.Events.ERROR, (_event, data) => {
    if (!data.fatal) return;
    // One decoding hiccup is worth one retry (hls.js's advice); a network failure has already been retried by hls.js.
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR && mediaRecoveries === 0) {
      mediaRecoveries++;
      hls.recoverMediaError();
      return;
    }
    onState({ kind: 'failed', reason: reasonOf(url, data.type, data.details, data.response?.code) });
    hls.destroy();
  });
  onState({ kind: 'loading' });
  hls.loadSource(url);
  hls.attachMedia(video);
  return { close: () => hls.destroy() };
}
