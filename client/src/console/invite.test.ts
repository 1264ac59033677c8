import * as QRCode from 'qrcode'
import { describe, expect, it } from 'vitest'

import { formatJoinCode, qrPath, QUIET_ZONE, type Modules } from './invite'

describe('the join code as shown', () => {
  it('is two groups of three digits', () => {
    expect(formatJoinCode('482913')).toBe('482 913')
    expect(formatJoinCode('48291')).toBe('48291')
  })
})

/** The dark cells a path draws, read back from its rectangles. */
function cells(path: string): Set<string> {
  const dark = new Set<string>()
  for (const m of path.matchAll(/M(\d+) (\d+)h(\d+)v1h-\d+z/g)) {
    const [x, y, w] = [Number(m[1]), Number(m[2]), Number(m[3])]
    for (let i = 0; i < w; i++) dark.add(`${x + i},${y}`)
  }
  return dark
}

describe('the QR code', () => {
  it('draws each dark module once, inside the quiet zone', () => {
    const grid = [
      [1, 1, 0],
      [0, 1, 0],
      [1, 0, 1],
    ]
    const modules: Modules = { size: 3, get: (r, c) => grid[r]?.[c] ?? 0 }
    expect(qrPath(modules, 4)).toBe('M4 4h2v1h-2zM5 5h1v1h-1zM4 6h1v1h-1zM6 6h1v1h-1z')
  })

  it('is the matrix qrcode makes for the join link', () => {
    const url = 'https://estrade.example/join/482913'
    const { modules } = QRCode.create(url, { errorCorrectionLevel: 'M' })
    const drawn = cells(qrPath(modules))
    let dark = 0
    for (let r = 0; r < modules.size; r++) {
      for (let c = 0; c < modules.size; c++) {
        if (modules.get(r, c)) {
          dark += 1
          expect(drawn.has(`${c + QUIET_ZONE},${r + QUIET_ZONE}`)).toBe(true)
        }
      }
    }
    expect(drawn.size).toBe(dark)
  })
})
