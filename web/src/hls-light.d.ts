// hls.js ships the light build (hls.js/light) without declarations of its
// own; its API is the full build's, less features the portal does not use.
declare module 'hls.js/light' {
  export { default } from 'hls.js';
}
