// No words in the components but from the catalogs: every .tsx file under
// src/, in any folder, is parsed, and text in JSX, or in an attribute people
// see or hear (aria-label, title, placeholder, alt …), that is a literal with
// letters in it fails the test. Keys are typed against en.json, so `tsc`
// refuses unknown keys.

import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'

const SEEN_OR_HEARD = new Set([
  'alt',
  'aria-label',
  'aria-description',
  'aria-roledescription',
  'aria-placeholder',
  'aria-valuetext',
  'label',
  'placeholder',
  'title',
])

const LETTER = /\p{L}/u

/** The literals an expression can render: its branches, not its comparisons or calls. */
function rendered(node: ts.Expression): ts.Node[] {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateExpression(node)) return [node]
  if (ts.isParenthesizedExpression(node)) return rendered(node.expression)
  if (ts.isConditionalExpression(node)) return [...rendered(node.whenTrue), ...rendered(node.whenFalse)]
  if (ts.isBinaryExpression(node)) {
    const op = node.operatorToken.kind
    if (op === ts.SyntaxKind.AmpersandAmpersandToken) return rendered(node.right)
    if (op === ts.SyntaxKind.BarBarToken || op === ts.SyntaxKind.QuestionQuestionToken) {
      return [...rendered(node.left), ...rendered(node.right)]
    }
  }
  return []
}

/** A literal's text; of a template, its literal parts only (not the code between). */
function textOf(node: ts.Node): string {
  if (ts.isTemplateExpression(node)) return node.head.text + node.templateSpans.map((s) => s.literal.text).join('')
  return (node as ts.LiteralLikeNode).text
}

/** Hard-coded, user-visible strings in a component's source: `line: text`. */
export function hardCoded(code: string, file = 'component.tsx'): string[] {
  const source = ts.createSourceFile(file, code, ts.ScriptTarget.Latest, true, ts.ScriptKind.TSX)
  const found: string[] = []
  const report = (node: ts.Node, text: string) => {
    if (!LETTER.test(text)) return
    const { line } = source.getLineAndCharacterOfPosition(node.getStart(source))
    found.push(`${file}:${line + 1}: ${text.trim()}`)
  }
  const visit = (node: ts.Node) => {
    if (ts.isJsxText(node)) report(node, node.text)
    if (ts.isJsxExpression(node) && node.expression && !ts.isJsxAttribute(node.parent)) {
      for (const literal of rendered(node.expression)) report(literal, textOf(literal))
    }
    if (ts.isJsxAttribute(node) && SEEN_OR_HEARD.has(node.name.getText(source)) && node.initializer) {
      const value = node.initializer
      if (ts.isStringLiteral(value)) report(value, value.text)
      else if (ts.isJsxExpression(value) && value.expression) {
        for (const literal of rendered(value.expression)) report(literal, textOf(literal))
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return found
}

function components(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return components(path)
    return entry.name.endsWith('.tsx') ? [path] : []
  })
}

describe('user-visible strings', () => {
  it('all come from the catalogs', () => {
    const src = join(__dirname, '..')
    const files = components(src)
    // Whatever the folders (app, learner, a11y, console …): the walk sees
    // exactly the .tsx files Vite's own glob lists, and never none.
    const listed = Object.keys(import.meta.glob('../**/*.tsx')).map((f) => join(__dirname, f))
    expect(files.length).toBeGreaterThan(0)
    expect([...files].sort()).toEqual(listed.sort())
    const found = files.flatMap((f) => hardCoded(readFileSync(f, 'utf8'), f.slice(src.length + 1)))
    expect(found).toEqual([])
  })

  it('are caught when hard-coded, in text, attributes and expressions', () => {
    const code = `
      export const A = ({ ok }: { ok: boolean }) => (
        <div className="box" id="x">
          <p>Bonjour</p>
          <button aria-label="Close" title={ok ? 'Yes' : t('no')}>{t('x')}</button>
          {ok && 'Loaded'}
          {'Plain'}
          {\`Template \${ok}\`}
          <img alt={label || 'Picture'} />
          {' · '}
          {state === 'live' && <span>{t('live')}</span>}
          {format(t('y'), 'en')}
        </div>
      )`
    expect(hardCoded(code).map((f) => f.replace(/^component\.tsx:\d+: /, ''))).toEqual([
      'Bonjour',
      'Close',
      'Yes',
      'Loaded',
      'Plain',
      'Template',
      'Picture',
    ])
  })
})
