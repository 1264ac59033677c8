// The join link's QR code, made in the page (qrcode's QRCode.create gives
// the module matrix; invite.ts draws it as one SVG path): nothing is sent
// anywhere to draw it. Dark on light whatever the colour scheme, since
// phones read it so.

import * as QRCode from 'qrcode'
import { useMemo } from 'react'
import { useTranslation } from 'react-i18next'

import { QUIET_ZONE, qrPath } from './invite'

export function QrCode({ url }: { url: string }) {
  const { t } = useTranslation()
  const drawing = useMemo(() => {
    try {
      const modules = QRCode.create(url, { errorCorrectionLevel: 'M' }).modules
      return { side: modules.size + 2 * QUIET_ZONE, path: qrPath(modules) }
    } catch {
      return null
    }
  }, [url])
  if (!drawing) return null
  return (
    <svg
      className="qr"
      role="img"
      aria-label={t('console.invite.qr')}
      viewBox={`0 0 ${drawing.side} ${drawing.side}`}
      shapeRendering="crispEdges"
    >
      <rect width={drawing.side} height={drawing.side} fill="#ffffff" />
      <path d={drawing.path} fill="#000000" />
    </svg>
  )
}
