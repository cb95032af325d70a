// The reference's integration example (its FaceSDK construction figure and preInitialize calls),
// with only the import changed, must type-check against types/faceproof.d.ts.
import FaceSDKDefault, {
  AsThreshold,
  Base64,
  FaceSDK,
  FaceSDKError,
  Template,
  TransactionMode,
  type ChallengeEventDetail,
  type QualityReport,
} from '@faceproof/web-sdk';

const environment = { url: 'http://localhost:8080' };

FaceSDK.preInitialize(
  { URL: `${environment.url}/api/v1/models` },
  {
    URL: {
      url: `${environment.url}/api/v1/pub_key`,
      headers: [
        { name: 'LogAPITrigger', value: 'true' },
        { name: 'requestID', value: '<REPLACE_BY_A_UNIQUE_SESSION_ID>' },
      ],
    },
  },
).catch((err) => {
  console.error(err);
});
FaceSDK.preInitialize('/api/v1/models', '/api/v1/pub_key');
FaceSDK.preInitialize({ url: '/api/v1/models', headers: [{ name: 'requestID', value: 's' }] });

const options = {
  requiredTemplates: [Template.JPEG, Template.ISO_19794_5],
  showCaptureTraining: true,
  base64EncodingFlag: Base64.NO_WRAP,
  allowClose: true,
  enableEyesStatusDetector: true,
  skipSupportCheck: false,
  localization: { FEEDBACK_CLOSE: 'Aléjate' },
  transaction: { type: TransactionMode.CAPTURE },
  graphics: {
    canvas: {
      canvasBackground: '#ffffff',
      ovalBorderBackground: '#26d22a',
      ovalBorderErrorBackground: '#77bae7',
      tickerDefaultBackground: 'gray',
      tickerActiveBackground: '#3ef55c',
    },
  },
  appUI: 'ignored',
  allowCameraSelect: true,
  asThreshold: AsThreshold.BALANCED_VERY_HIGH,
  assisted: false,
  enableRetakeScreen: true,
  enableBackgroundRemoval: true,
  backgroundColor: '#12aBCd',
  captureTimeout: 30 * 1000,
  enableICAOChecks: true,
  events: {
    onImageQualityDetected: (quality: QualityReport) => {
      console.log(JSON.stringify(quality), quality.eyes_status === 'OPEN');
    },
    onInputDevicesDetected: (devices: MediaDeviceInfo[]) =>
      new Promise<unknown>((resolve) => setTimeout(() => resolve(devices[0].deviceId), 100)),
  },
};
(options as Record<string, unknown>)['returnQualityMetadata'] = true;

const faceSDK = new FaceSDK(options);
faceSDK
  .initialize()
  .then(() => faceSDK.capture().then((blob: Blob) => blob.size))
  .catch((err: FaceSDKError) => {
    if ([100, 104, 103, 500, 202, 501, 101].includes(err.code)) alert(err.getLocalizedString());
    if (err.code === 600) console.log({ code: err.code, feedback_code: err.message });
    const wait: number | undefined = err.retryAfter;
    if (err.message === 'ERROR_TOO_MANY_ATTEMPTS' && wait !== undefined) setTimeout(() => faceSDK.capture(), wait * 1000);
  });

const same: typeof FaceSDK = FaceSDKDefault;
void same;
window.addEventListener('faceproof:challenge', (e) => {
  const d: ChallengeEventDetail = e.detail;
  if (d.phase === 'oval') console.log(d.role, d.oval.cx, d.tolerance.size_max);
  if (d.phase === 'light') console.log(d.index, d.color);
});
