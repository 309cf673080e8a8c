/** Draws a QR code locally onto a canvas: the invite link never leaves the page. */
import QRCode from 'qrcode'

/** Renders `text` as a QR code of about `size` CSS pixels, sharp on high-density screens. */
export async function drawQr (canvas: HTMLCanvasElement, text: string, size = 200): Promise<void> {
  const scale = Math.max(1, Math.min(4, Math.ceil(window.devicePixelRatio || 1)))
  await QRCode.toCanvas(canvas, text, {
    errorCorrectionLevel: 'M',
    margin: 2,
    width: size * scale,
    // Dark on light in every colour scheme: that is what camera apps read best.
    color: { dark: '#000000', light: '#ffffff' }
  })
  // The library sizes the canvas with inline CSS; let the stylesheet decide instead.
  canvas.style.removeProperty('width')
  canvas.style.removeProperty('height')
}
