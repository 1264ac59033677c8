// Who is talking now (LiveKit's active speakers, the teacher included) and
// who holds the floor (the server's floor).

import { useSpeakingParticipants } from '@livekit/components-react'
import type { Room } from 'livekit-client'
import { useTranslation } from 'react-i18next'

import type { FloorView } from '../api/client'
import { isTeacher } from '../live/useTeacher'

interface Props {
  room: Room
  view: FloorView | null
  me: string
  teacherName: string
}

export function Speakers({ room, view, me, teacherName }: Props) {
  const { t, i18n } = useTranslation()
  const list = (names: string[]) => new Intl.ListFormat(i18n.language, { type: 'conjunction' }).format(names)
  const teacher = teacherName ? t('speakers.teacher_named', { name: teacherName }) : t('speakers.teacher')
  const talking = useSpeakingParticipants({ room }).map((p) =>
    isTeacher(p) ? teacher : p.identity === room.localParticipant.identity ? t('speakers.you') : (p.name ?? p.identity),
  )
  const holders = (view?.speakers ?? []).map((s) => (s.participant_id === me ? t('speakers.you') : s.name))
  return (
    <section className="speakers" aria-labelledby="speakers-title">
      <h2 id="speakers-title">{t('speakers.title')}</h2>
      <p>{talking.length > 0 ? t('speakers.talking', { names: list(talking) }) : t('speakers.silence')}</p>
      <p>{holders.length > 0 ? t('speakers.floor', { names: list(holders) }) : t('speakers.floor_free')}</p>
    </section>
  )
}
