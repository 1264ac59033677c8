// The invitation as shown: the join code in two groups of three digits
// ("482 913", read aloud as two numbers), and the QR code of the join link
// drawn from its module matrix (qrcode's QRCode.create) as one SVG path,
// with the quiet zone the standard asks for. Pure.

/** "482913" as "482 913"; anything else as it is. */
export function formatJoinCode(code: string): string {
  return /^\d{6}$/.test(code) ? `${code.slice(0, 3)} ${code.slice(3)}` : code
}

/** What the drawing needs of qrcode's BitMatrix. */
export interface Modules {
  size: number
  get(row: number, col: number): number | boolean
}

/** Modules of light margin on each side (4 in ISO/IEC 18004). */
export const QUIET_ZONE = 4

/** The dark modules as one SVG path in a (size + 2 × quiet zone) square, one unit per module;
 * runs of dark modules on a row are one rectangle. */
export function qrPath(modules: Modules, margin = QUIET_ZONE): string {
  const parts: string[] = []
  for (let row = 0; row < modules.size; row++) {
    let col = 0
    while (col < modules.size) {
      if (!modules.get(row, col)) {
        col += 1
        continue
      }
      const start = col
      while (col < modules.size && modules.get(row, col)) col += 1
      parts.push(`M${start + margin} ${row + margin}h${col - start}v1h-${col - start}z`)
    }
  }
  return parts.join('')
}
