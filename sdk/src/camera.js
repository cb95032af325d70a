/**
 * Camera access: the reference's 101 (no video input) and 104 (access refused) errors,
 * front or rear camera (`assisted`), the optional camera choice, and the 4:3 centre crop
 * that becomes the 640×480 frame.
 * @module camera
 */
import { FaceSDKError } from './errors.js';

export const FRAME_W = 640;
export const FRAME_H = 480;

/** @param {any} err */
function cameraError(err) {
  const name = err && err.name;
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') {
    return new FaceSDKError('ERROR_NO_INPUT_DEVICES', { cause: err });
  }
  return new FaceSDKError('FEEDBACK_CAMERA_ACQUIRING_FAILED', { cause: err, detail: name });
}

/** @returns {Promise<MediaDeviceInfo[]>} */
export async function videoInputs() {
  const md = navigator.mediaDevices;
  if (!md?.enumerateDevices) return [];
  try {
    return (await md.enumerateDevices()).filter((d) => d.kind === 'videoinput');
  } catch {
    return [];
  }
}

/**
 * Opens the camera (at most 640×480 requested; any size is centre-cropped to 4:3).
 * @param {{rear: boolean, deviceId?: string | null}} opts
 * @returns {Promise<MediaStream>}
 */
export async function openCamera(opts) {
  const md = navigator.mediaDevices;
  if (!md?.getUserMedia) throw new FaceSDKError('ERROR_WEBRTC_NOT_SUPPORTED');
  const before = await videoInputs();
  // Browsers list a camera (with an empty label) before permission; none at all means none.
  if (md.enumerateDevices && before.length === 0) throw new FaceSDKError('ERROR_NO_INPUT_DEVICES');
  /** @type {MediaTrackConstraints} */
  const video = opts.deviceId
    ? { deviceId: { exact: opts.deviceId }, width: { ideal: FRAME_W }, height: { ideal: FRAME_H } }
    : { facingMode: { ideal: opts.rear ? 'environment' : 'user' }, width: { ideal: FRAME_W }, height: { ideal: FRAME_H } };
  try {
    return await md.getUserMedia({ video, audio: false });
  } catch (err) {
    if (/** @type {any} */ (err)?.name === 'OverconstrainedError' && !opts.deviceId) {
      try {
        return await md.getUserMedia({ video: true, audio: false });
      } catch (err2) {
        throw cameraError(err2);
      }
    }
    throw cameraError(err);
  }
}

/** @param {MediaStream | null} stream */
export function stopStream(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}

/**
 * The centred 4:3 region of a w×h video.
 * @param {number} w @param {number} h
 */
export function crop43(w, h) {
  if (w * 3 > h * 4) {
    const cw = Math.round((h * 4) / 3);
    return { x: Math.floor((w - cw) / 2), y: 0, w: cw, h };
  }
  const ch = Math.round((w * 3) / 4);
  return { x: 0, y: Math.floor((h - ch) / 2), w, h: ch };
}
