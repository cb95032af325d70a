import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AsThreshold, Base64, Template, TransactionMode } from '../../src/enums.js';
import { DEFAULT_CAPTURE_TIMEOUT, MAX_CAPTURE_TIMEOUT, envelopeOptions, resolveOptions, validateBackgroundColor } from '../../src/options.js';
import { CAPTURE_DIALOG } from '../../src/templates.js';

test('documented defaults', () => {
  const o = resolveOptions({});
  assert.equal(o.enableAs, true);
  assert.equal(o.asThreshold, null);
  assert.equal(o.returnQualityMetadata, true);
  assert.equal(o.allowCameraSelect, false);
  assert.equal(o.captureTimeout, DEFAULT_CAPTURE_TIMEOUT);
  assert.equal(DEFAULT_CAPTURE_TIMEOUT, 30000);
  assert.equal(MAX_CAPTURE_TIMEOUT, 50000);
  assert.equal(o.enableEyesStatusDetector, true);
  assert.equal(o.enableBackgroundRemoval, false);
  assert.equal(o.backgroundColor, null);
  assert.equal(o.assisted, false);
  assert.equal(o.allowClose, true);
  assert.equal(o.enableICAOChecks, false);
  assert.equal(o.skipSupportCheck, false);
  assert.equal(o.enableRetakeScreen, false);
  assert.equal(o.showCaptureTraining, false);
  assert.deepEqual(o.requiredTemplates, []);
  assert.equal(o.base64EncodingFlag, Base64.DEFAULT);
  assert.equal(o.transaction.type, TransactionMode.CAPTURE);
  assert.equal(o.htmlTemplates.CAPTURE_DIALOG, CAPTURE_DIALOG);
  assert.equal(o.graphics.canvasBackground, '#ffffff');
});

test('backgroundColor: the reference valid values', () => {
  for (const ok of ['#ffffff', '#000000', '#ff0000', '#efefef', '#12aBCd', '#ABCDEF']) {
    assert.equal(validateBackgroundColor(ok), ok);
    assert.equal(resolveOptions({ backgroundColor: ok }).backgroundColor, ok);
  }
});

test('backgroundColor: the reference invalid values raise', () => {
  for (const bad of ['', 'ffffff', '0xffffff', '#00000g', '#00ff', '#00ff00ff', ' #ffffff', '#fff', 123, true]) {
    assert.throws(() => resolveOptions({ backgroundColor: bad }), TypeError, String(bad));
  }
});

test('captureTimeout: integer in 1..50000', () => {
  assert.equal(resolveOptions({ captureTimeout: 50000 }).captureTimeout, 50000);
  assert.equal(resolveOptions({ captureTimeout: 5000 }).captureTimeout, 5000);
  assert.throws(() => resolveOptions({ captureTimeout: 50001 }), RangeError);
  assert.throws(() => resolveOptions({ captureTimeout: 0 }), RangeError);
  assert.throws(() => resolveOptions({ captureTimeout: 1.5 }), TypeError);
  assert.throws(() => resolveOptions({ captureTimeout: '30000' }), TypeError);
});

test('enums and booleans are validated', () => {
  assert.equal(resolveOptions({ asThreshold: AsThreshold.HIGHEST }).asThreshold, 'HIGHEST');
  assert.throws(() => resolveOptions({ asThreshold: 'ULTRA' }), TypeError);
  // Level names in any case, spaces trimmed, as the server reads them; sent upper-case.
  assert.equal(resolveOptions({ asThreshold: 'highest' }).asThreshold, 'HIGHEST');
  assert.equal(resolveOptions({ asThreshold: ' Balanced_Very_High ' }).asThreshold, 'BALANCED_VERY_HIGH');
  assert.equal(envelopeOptions(resolveOptions({ asThreshold: 'moderate' })).asThreshold, 'MODERATE');
  assert.throws(() => resolveOptions({ asThreshold: 'ultra' }), TypeError);
  assert.throws(() => resolveOptions({ asThreshold: 'none' }), TypeError);
  assert.throws(() => resolveOptions({ asThreshold: 3 }), TypeError);
  assert.equal(resolveOptions({ base64EncodingFlag: Base64.NO_WRAP }).base64EncodingFlag, Base64.NO_WRAP);
  assert.throws(() => resolveOptions({ base64EncodingFlag: 3 }), TypeError);
  assert.deepEqual(resolveOptions({ requiredTemplates: [Template.JPEG, Template.ISO_19794_5, Template.JPEG] }).requiredTemplates, ['JPEG', 'ISO_19794_5']);
  assert.throws(() => resolveOptions({ requiredTemplates: ['GIF'] }), TypeError);
  assert.throws(() => resolveOptions({ requiredTemplates: 'JPEG' }), TypeError);
  assert.throws(() => resolveOptions({ enableAs: 'yes' }), TypeError);
  assert.throws(() => resolveOptions({ transaction: { type: 'PAY' } }), TypeError);
  assert.throws(() => resolveOptions(null), TypeError);
});

test("options the SDK does not know (the reference demo's appUI) are ignored", () => {
  const o = resolveOptions({ appUI: 'x', enableGImage: true, allowClose: false });
  assert.equal(o.allowClose, false);
  assert.equal(/** @type {any} */ (o).appUI, undefined);
});

test('graphics: reference nesting under canvas, and flat keys', () => {
  const g = resolveOptions({ graphics: { canvas: { label: 'white', canvasBackground: 'pink', labelBackground: 'black', ovalBorderBackground: 'yellow' } } }).graphics;
  assert.equal(g.label, 'white');
  assert.equal(g.canvasBackground, 'pink');
  assert.equal(g.ovalBorderBackground, 'yellow');
  assert.equal(g.ovalBorderErrorBackground, '#77bae7');
  assert.equal(resolveOptions({ graphics: { tickerActiveBackground: '#3ef55c' } }).graphics.tickerActiveBackground, '#3ef55c');
  assert.throws(() => resolveOptions({ graphics: { canvas: { label: 5 } } }), TypeError);
});

test('events and templates', () => {
  const f = () => {};
  assert.equal(resolveOptions({ events: { onImageQualityDetected: f } }).events.onImageQualityDetected, f);
  assert.throws(() => resolveOptions({ events: { onImageQualityDetected: 'log' } }), TypeError);
  const custom = CAPTURE_DIALOG.replace('fp-label', 'fp-label my-label');
  assert.equal(resolveOptions({ htmlTemplates: { CAPTURE_DIALOG: custom } }).htmlTemplates.CAPTURE_DIALOG, custom);
  assert.equal(resolveOptions({ htmlTemplates: { CAPTURE_DIALOG: { default: custom } } }).htmlTemplates.CAPTURE_DIALOG, custom);
  assert.throws(() => resolveOptions({ htmlTemplates: { CAPTURE_DIALOG: '<div id="fp-stage"></div>' } }), /fp-video/);
  assert.throws(() => resolveOptions({ htmlTemplates: { PROGRESS_DIALOG: '<p>x</p>' } }), /fp-progress-label/);
});

test('envelope options carry exactly the documented members', () => {
  const e = envelopeOptions(resolveOptions({ enableBackgroundRemoval: true, backgroundColor: '#12aBCd', requiredTemplates: ['PNG'] }));
  assert.deepEqual(Object.keys(e).sort(), [
    'asThreshold', 'backgroundColor', 'enableAs', 'enableBackgroundRemoval', 'enableEyesStatusDetector',
    'enableICAOChecks', 'requiredTemplates', 'returnQualityMetadata',
  ]);
  assert.equal(e.backgroundColor, '#12aBCd');
  assert.deepEqual(e.requiredTemplates, ['PNG']);
});
