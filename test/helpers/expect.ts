/** Assertions that several test files share: how a workflow failed, and how a command was refused. */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { UpgradeCommandError } from '../../src/planning/errors.js';

/**
 * Awaits a workflow's result, which must fail with an ApplicationFailure of `type` (e.g.
 * 'InvalidUpgradeRequest'); returns that failure for further checks of its message.
 */
export async function expectApplicationFailure(result: Promise<unknown>, type: string): Promise<ApplicationFailure> {
  const err = await result.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe(type);
  return cause as ApplicationFailure;
}

/** Awaits a pause, resume or cancel that the workflow's Update validator must refuse with `message`. */
export async function expectRefused(command: Promise<unknown>, message: string | RegExp): Promise<void> {
  const err = await command.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UpgradeCommandError);
  if (typeof message === 'string') expect((err as Error).message).toContain(message);
  else expect((err as Error).message).toMatch(message);
}
