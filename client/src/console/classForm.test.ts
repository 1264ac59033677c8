import { describe, expect, it } from 'vitest'

import { ApiError } from '../api/client'
import { checkClass, checkFloor, floorInput, serverField, type ClassInput } from './classForm'

const input: ClassInput = { title: 'Sauces mères', mode: 'moderated', maxSpeakers: '1', timeLimit: '', maxLearners: '60' }

describe('the new-class form', () => {
  it('builds the request, the title trimmed and an empty limit as none', () => {
    expect(checkClass({ ...input, title: '  Sauces mères ' })).toEqual({
      title: 'Sauces mères',
      floor: { mode: 'moderated', max_speakers: 1, speaking_time_limit_s: null },
      max_learners: 60,
    })
    expect(checkClass({ ...input, mode: 'open', maxSpeakers: ' 3 ', timeLimit: '90', maxLearners: '24' })).toEqual({
      title: 'Sauces mères',
      floor: { mode: 'open', max_speakers: 3, speaking_time_limit_s: 90 },
      max_learners: 24,
    })
  })

  it.each([
    [{ title: '   ' }, 'title', 'console.form.invalid_title'],
    [{ title: 'é'.repeat(201) }, 'title', 'console.form.invalid_title'],
    [{ maxSpeakers: '' }, 'max_speakers', 'console.form.invalid_max_speakers'],
    [{ maxSpeakers: '0' }, 'max_speakers', 'console.form.invalid_max_speakers'],
    [{ maxSpeakers: '17' }, 'max_speakers', 'console.form.invalid_max_speakers'],
    [{ maxSpeakers: '1.5' }, 'max_speakers', 'console.form.invalid_max_speakers'],
    [{ timeLimit: '4' }, 'speaking_time_limit_s', 'console.form.invalid_time_limit'],
    [{ timeLimit: '3601' }, 'speaking_time_limit_s', 'console.form.invalid_time_limit'],
    [{ timeLimit: '-5' }, 'speaking_time_limit_s', 'console.form.invalid_time_limit'],
    [{ maxLearners: '0' }, 'max_learners', 'console.form.invalid_max_learners'],
    [{ maxLearners: '1001' }, 'max_learners', 'console.form.invalid_max_learners'],
    [{ maxLearners: '' }, 'max_learners', 'console.form.invalid_max_learners'],
  ])('refuses %o on the %s field', (change, field, key) => {
    expect(checkClass({ ...input, ...change })).toEqual({ field, key })
  })

  it('names the first field to fix, in the form’s order', () => {
    expect(checkClass({ ...input, title: '', maxSpeakers: '99', maxLearners: '0' })).toMatchObject({ field: 'title' })
    expect(checkClass({ ...input, maxSpeakers: '99', maxLearners: '0' })).toMatchObject({ field: 'max_speakers' })
  })

  it('counts the title in characters, as the server does', () => {
    expect(checkClass({ ...input, title: 'é'.repeat(200) })).toMatchObject({ max_learners: 60 })
  })
})

describe('the floor form', () => {
  it('shows the current settings and sends them back unchanged', () => {
    const settings = { mode: 'open', max_speakers: 2, speaking_time_limit_s: 120 } as const
    expect(floorInput(settings)).toEqual({ mode: 'open', maxSpeakers: '2', timeLimit: '120' })
    expect(checkFloor(floorInput(settings))).toEqual(settings)
    expect(floorInput({ ...settings, speaking_time_limit_s: null }).timeLimit).toBe('')
  })
})

describe('a problem the server finds', () => {
  const refused = (code: string, message = '', details: Record<string, unknown> | null = null, status = 422) =>
    new ApiError(status, code, null, details, message)

  it.each([
    [refused('invalid_title', 'title: too long.'), 'title'],
    [refused('invalid_max_learners', 'max_learners must be between 1 and 1000.'), 'max_learners'],
    [refused('invalid_floor', 'max_speakers must be between 1 and 16.'), 'max_speakers'],
    [refused('invalid_floor', 'speaking_time_limit_s must be between 5 and 3600 seconds.'), 'speaking_time_limit_s'],
    [refused('invalid_floor', 'Something else.', { field: 'max_speakers' }), 'max_speakers'],
    [refused('invalid_body', 'unknown variant'), null],
    [refused('invalid_floor', 'Something else.'), null],
    [refused('invalid_floor', 'Something else.', { field: 'password' }), null],
    [refused('session_ended', 'max_speakers', null, 409), null],
  ])('%o goes next to %s', (error, field) => {
    expect(serverField(error)).toBe(field)
  })
})
