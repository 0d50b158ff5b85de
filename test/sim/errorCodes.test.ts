import { describe, expect, it } from 'vitest';
import { CodedError } from '../../core/index';
import { UsageError, isBadInput, isInvariantBroken } from '../../sim/errorCodes';

describe('simulator CLI error classification', () => {
  it('calls bad input only what carries a bad-input code', () => {
    expect(isBadInput(new CodedError('SIM_ERR_BAD_SCENARIO', 'x'))).toBe(true);
    expect(isBadInput(new UsageError('--seed must be an integer'))).toBe(true);
    expect(isBadInput(Object.assign(new TypeError('x'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }))).toBe(
      true,
    );
  });

  it('treats a RangeError, a plain Error and an unknown code as internal errors, not bad input', () => {
    for (const err of [
      new RangeError('fit: no observed hours'),
      new Error('x'),
      new CodedError('SOMETHING', 'x'),
    ]) {
      expect(isBadInput(err)).toBe(false);
      expect(isInvariantBroken(err)).toBe(false);
    }
  });

  it('knows a broken invariant by its code, whatever its class', () => {
    expect(isInvariantBroken(Object.assign(new Error('x'), { code: 'SIM_ERR_INVARIANT' }))).toBe(true);
    expect(isBadInput(Object.assign(new Error('x'), { code: 'SIM_ERR_INVARIANT' }))).toBe(false);
  });
});
