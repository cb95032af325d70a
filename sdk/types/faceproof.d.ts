// Type declarations for the faceproof Face Web SDK (hand-written; the sources are plain ES
// modules with JSDoc). The public API mirrors the reference Face Web SDK: an integrator
// switches by changing only the import. See docs/sdk.md.

/** Liveness security level (`asThreshold`), lowest to highest. */
export declare const AsThreshold: Readonly<{
  LOW: 'LOW';
  MEDIUM: 'MEDIUM';
  MODERATE: 'MODERATE';
  BALANCED_HIGH: 'BALANCED_HIGH';
  HIGH: 'HIGH';
  BALANCED_VERY_HIGH: 'BALANCED_VERY_HIGH';
  VERY_HIGH: 'VERY_HIGH';
  HIGHEST: 'HIGHEST';
}>;
export type AsThreshold = (typeof AsThreshold)[keyof typeof AsThreshold];

/** Base64 encoding flags (Android `Base64` values). */
export declare const Base64: Readonly<{
  DEFAULT: 0;
  NO_PADDING: 1;
  NO_WRAP: 2;
  CRLF: 4;
  URL_SAFE: 8;
  NO_CLOSE: 16;
}>;
export type Base64 = (typeof Base64)[keyof typeof Base64];

/** Templates the server returns for a capture (`requiredTemplates`). */
export declare const Template: Readonly<{ JPEG: 'JPEG'; PNG: 'PNG'; ISO_19794_5: 'ISO_19794_5' }>;
export type Template = (typeof Template)[keyof typeof Template];

/** Transaction kind (`transaction.type`). */
export declare const TransactionMode: Readonly<{ CAPTURE: 'CAPTURE'; ENROLL: 'ENROLL'; VERIFY: 'VERIFY' }>;
export type TransactionMode = (typeof TransactionMode)[keyof typeof TransactionMode];

/** `eyes_status` values. */
export declare const EyesStatus: Readonly<{ OPEN: 'OPEN'; CLOSED: 'CLOSED' }>;
export type EyesStatus = (typeof EyesStatus)[keyof typeof EyesStatus];

/** Localization: any subset of the keys, each overriding the English default. */
export type Localization = Partial<Record<LocalizationKey, string>> & Record<string, string>;
export type LocalizationKey =
  | 'FEEDBACK_RETRY' | 'FEEDBACK_RETRY_INSECURE' | 'FEEDBACK_RETRY_QUALITY' | 'FEEDBACK_ENROLLED'
  | 'FEEDBACK_CAPTURED' | 'FEEDBACK_NOT_ENROLLED' | 'FEEDBACK_VERIFY_COMPLETED' | 'FEEDBACK_VERIFY_FAILED'
  | 'FEEDBACK_SEARCHING' | 'FEEDBACK_INSIDE_GUIDE' | 'FEEDBACK_PLEASE_HOLD' | 'FEEDBACK_STABLE'
  | 'FEEDBACK_EYE_LEVEL' | 'FEEDBACK_UP_FACING' | 'FEEDBACK_DOWN_FACING' | 'FEEDBACK_FACE_OUTSIDE'
  | 'FEEDBACK_CLOSE' | 'FEEDBACK_FAR' | 'FEEDBACK_LEFT_FACING' | 'FEEDBACK_RIGHT_FACING' | 'FEEDBACK_ROTATED'
  | 'FEEDBACK_NOT_STABLE' | 'FEEDBACK_OK' | 'FEEDBACK_NO' | 'FEEDBACK_NOT_CENTERED'
  | 'FEEDBACK_CAMERA_ACQUIRING_FAILED' | 'FEEDBACK_PROCESSING' | 'FEEDBACK_UPLOAD_FAILURE'
  | 'FEEDBACK_INITIALIZATION' | 'FEEDBACK_CHANGE_LIGHT' | 'FEEDBACK_CHANGE_LIGHT_TOO_BRIGHT'
  | 'FEEDBACK_CHANGE_LIGHT_TOO_DARK' | 'FEEDBACK_BUTTON_CLOSE' | 'FEEDBACK_BUTTON_RETRY'
  | 'FEEDBACK_TRAINING_BUTTON_NEXT' | 'FEEDBACK_TRAINING_LABEL' | 'FEEDBACK_ORIENTATION_NOT_SUPPORTED'
  | 'FEEDBACK_TRAINING_DIALOG_CLOSED' | 'FEEDBACK_LICENCE_INVALID' | 'ERROR_BROWSER_NOT_SUPPORTED'
  | 'ERROR_BROWSER_VERSION_NOT_SUPPORTED' | 'ERROR_DEVICE_NOT_SUPPORTED' | 'ERROR_DEVICE_NOT_SUPPORTED_ANDROID'
  | 'ERROR_DEVICE_NOT_SUPPORTED_IOS' | 'ERROR_DEVICE_NOT_SUPPORTED_MEMORY' | 'ERROR_PLATFORM_NOT_SUPPORTED_ANDROID'
  | 'ERROR_PLATFORM_NOT_SUPPORTED_IOS' | 'ERROR_BROWSER_FEATURE_NOT_SUPPORTED' | 'ERROR_WEBRTC_NOT_SUPPORTED'
  | 'ERROR_MODEL_FAIL' | 'ERROR_SERVER_INTERNAL' | 'ERROR_SERVER_CONNECTION_FAILURE'
  // faceproof additions
  | 'FEEDBACK_DIALOG_CLOSED' | 'FEEDBACK_CAPTURE_TIMEOUT' | 'ERROR_NO_INPUT_DEVICES' | 'ERROR_FETCH_INTERNAL'
  | 'FEEDBACK_EYES_CLOSED' | 'FEEDBACK_MULTIPLE_FACES' | 'FEEDBACK_FOLLOW_OVAL' | 'FEEDBACK_LIGHT_HOLD'
  | 'FEEDBACK_CAPTURE_TITLE' | 'FEEDBACK_TRAINING_TITLE' | 'FEEDBACK_TRAINING_TEXT' | 'FEEDBACK_RETAKE_TITLE'
  | 'FEEDBACK_BUTTON_USE' | 'FEEDBACK_SELECT_CAMERA'
  // the server's 429/503 refusals; `{retryAfter}` in the text becomes the wait ("30 s", "5 min")
  | 'ERROR_TOO_MANY_ATTEMPTS' | 'ERROR_TOO_MANY_REQUESTS' | 'ERROR_SERVER_BUSY';

/** The default English strings. */
export declare const DEFAULT_LOCALIZATION: Readonly<Record<LocalizationKey, string>>;

/** Colours of the capture screen (CSS colour strings). */
export interface GraphicsCanvas {
  label?: string;
  labelBackground?: string;
  canvasBackground?: string;
  ovalBorderBackground?: string;
  ovalBorderErrorBackground?: string;
  tickerDefaultBackground?: string;
  tickerActiveBackground?: string;
}
/** `graphics: {canvas: {...}}` as in the reference (the same keys flat are accepted too). */
export type Graphics = { canvas?: GraphicsCanvas } & GraphicsCanvas;

/** HTML templates; they must keep the SDK's element ids (docs/sdk.md). */
export interface TemplateList {
  CAPTURE_DIALOG?: string | { default: string };
  PROGRESS_DIALOG?: string | { default: string };
}

/** What `onImageQualityDetected` receives (once per capture, for the main frame). */
export interface QualityReport {
  quality_metric: number;
  head_pose_check: boolean;
  /** Only with `enableEyesStatusDetector`. */
  eyes_status?: EyesStatus;
  eyes_opening_grade?: number;
}

export interface Events {
  onImageQualityDetected?: (quality: QualityReport) => void;
  /** With `allowCameraSelect` and several cameras: resolve the chosen `deviceId` (or the device). */
  onInputDevicesDetected?: (
    devices: MediaDeviceInfo[],
  ) => string | MediaDeviceInfo | Promise<string | MediaDeviceInfo | unknown>;
}

/** Capture options (the reference's table 2); every member is optional. */
export interface SdkOptions {
  /** Liveness checks (default true). */
  enableAs?: boolean;
  /** Default: the server's level (BALANCED_VERY_HIGH unless configured). */
  asThreshold?: AsThreshold | null;
  /** Default Base64.DEFAULT. */
  base64EncodingFlag?: Base64;
  localization?: Localization;
  events?: Events;
  htmlTemplates?: TemplateList;
  graphics?: Graphics;
  /** Training screen before the capture (default false). */
  showCaptureTraining?: boolean;
  /** Close button and Escape (default true). */
  allowClose?: boolean;
  /** Rear camera (default false: front camera). */
  assisted?: boolean;
  /** Quality metadata in the envelope and the onImageQualityDetected event (default true). */
  returnQualityMetadata?: boolean;
  /** Camera choice when several are present (default false). */
  allowCameraSelect?: boolean;
  /** ms to reach the main frame; integer 1..50000, default 30000. */
  captureTimeout?: number;
  /** Default true. */
  enableEyesStatusDetector?: boolean;
  /** Default false. */
  enableICAOChecks?: boolean;
  /** Default false. */
  enableBackgroundRemoval?: boolean;
  /** '#' + six hex digits, any case; default: the average background colour (server side). */
  backgroundColor?: string | null;
  requiredTemplates?: Template[];
  /** Skip the browser/device support check (default false). */
  skipSupportCheck?: boolean;
  /** Retake screen after the capture (default false). */
  enableRetakeScreen?: boolean;
  transaction?: { type: TransactionMode };
  /** Other members (e.g. the reference demo's `appUI`) are ignored. */
  [other: string]: unknown;
}

export interface HeaderEntry {
  name: string;
  value: string;
}
/** The reference's call shapes for `preInitialize`. */
export type EndpointArg =
  | string
  | URL
  | { url: string | URL; headers?: HeaderEntry[] }
  | { URL: string | URL | { url: string | URL; headers?: HeaderEntry[] }; headers?: HeaderEntry[] };

/** Error names and their codes (the reference's table 6). */
export declare const ERROR_CODES: Readonly<Record<string, number>>;

/** What every SDK promise rejects with. */
export declare class FaceSDKError extends Error {
  /** 100, 101, 103, 104, 202, 500, 501 … */
  readonly code: number;
  /** The error name, e.g. "FEEDBACK_DIALOG_CLOSED" (also in `message`). */
  readonly key: string;
  /** Developer detail, never shown to users. */
  readonly detail?: string;
  /**
   * Seconds the server asked to wait (its `Retry-After`) before trying again: set on
   * ERROR_TOO_MANY_ATTEMPTS, ERROR_TOO_MANY_REQUESTS (HTTP 429) and ERROR_SERVER_BUSY (HTTP 503),
   * all code 500; undefined elsewhere or when the server sent none.
   */
  readonly retryAfter?: number;
  /** The user-facing text in the SDK's localization (with the wait, when there is one). */
  getLocalizedString(): string;
}

/** Checks a backgroundColor value; throws TypeError when invalid. */
export declare function validateBackgroundColor(value: unknown): string;

/** Diagnostics of the last capture (no image data): analysed frames and time, time to first
 * feedback, the sealed frames' roles and times, the light start and the worst paint lag. */
export interface CaptureStats {
  analysed: number;
  analysisMs: number;
  firstFeedbackMs: number;
  /** ms since capture() began at which start-up phases ended: camera, video, challenge, firstFeedback. */
  phasesMs?: Record<string, number>;
  timeline?: Array<{ role: string; t: number }>;
  light_start_t?: number | null;
  lightPaintLagMs?: number;
  /** Light sequences run again because the page stalled. */
  lightRestarts?: number;
}

export declare class FaceSDK {
  static readonly version: string;
  /**
   * Fetches and checks the models and the public key (call at application start). Headers
   * given here are sent with every call the SDK makes.
   */
  static preInitialize(
    models?: EndpointArg,
    pubKey?: EndpointArg,
    extra?: { assetsURL?: string },
  ): Promise<void>;
  /** Throws TypeError/RangeError for an invalid option. */
  constructor(options?: SdkOptions);
  readonly options: Readonly<Required<Omit<SdkOptions, 'graphics' | 'localization'>>> & {
    graphics: Readonly<Required<GraphicsCanvas>>;
    localization: Readonly<Record<string, string>>;
  };
  /** Stats of the last capture (faceproof addition). */
  lastCaptureStats: CaptureStats | null;
  initialize(): Promise<void>;
  /** The sealed capture envelope, to post as `file`. */
  capture(): Promise<Blob>;
  enableEyesStatusDetector(enable?: boolean): Promise<void>;
  enableICAOChecks(enable?: boolean): Promise<void>;
  /** Closes a running capture (it rejects with 202), like the close button. */
  close(): void;
}

export default FaceSDK;

/** Detail of the `faceproof:challenge` window events (challenge protocol §5). */
export type ChallengeEventDetail =
  | { phase: 'main'; oval: { cx: number; cy: number; h: number }; tolerance: { center: number; size_min: number; size_max: number } }
  | { phase: 'oval'; role: 'far' | 'near'; oval: { cx: number; cy: number; h: number }; tolerance: { center: number; size_min: number; size_max: number } }
  | { phase: 'light'; index: number; color: string | null }
  | { phase: 'sealing' };

declare global {
  interface WindowEventMap {
    'faceproof:challenge': CustomEvent<ChallengeEventDetail>;
  }
}
