import { describe, expect, it } from 'vitest'
import { emptyForm, jobBody, localTime, when } from '../src/lib/schedules'

describe('the schedules page', () => {
  it('sends the form as a job: targets split, fields trimmed, a default zone', () => {
    const form = { ...emptyForm(), name: ' digest ', spec: ' 0 8 * * * ', timezone: ' ',
      targets: 'qq:group:1，web:user:root  qq:user:2,', payload: ' 早安 ' }
    expect(jobBody(form)).toEqual({
      name: 'digest', trigger: 'cron', spec: '0 8 * * *', timezone: 'Asia/Shanghai',
      targets: ['qq:group:1', 'web:user:root', 'qq:user:2'], action: 'text', payload: ' 早安 ',
    })
  })

  it('says when a job fires', () => {
    expect(when({ trigger: 'cron', spec: '0 8 * * *' })).toBe('0 8 * * *')
    expect(when({ trigger: 'interval', spec: '3600' })).toBe('every 3600 s')
    expect(when({ trigger: 'date', spec: '2027-01-01T08:00' })).toBe('at 2027-01-01T08:00')
    expect(localTime(null)).toBe('—')
    expect(localTime('not a time')).toBe('not a time')
  })
})
