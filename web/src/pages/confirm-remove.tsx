// A remove that asks first: one button, then a group of the dangerous one
// and Cancel; the refusal, if any, is said beside it. The slices page's
// delete and the apps page's remove are both this.

import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { errorMessage } from '../api';

export function ConfirmRemove({ ask, confirmLabel, confirm, run }: {
  /** The first button's text, e.g. "Delete slice web". */
  ask: string;
  /** The group's label while it asks, e.g. "Confirm deleting slice web". */
  confirmLabel: string;
  /** The dangerous button's text. */
  confirm: string;
  run: () => Promise<void>;
}): JSX.Element {
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const remove = async (): Promise<void> => {
    try {
      await run();
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <>
      {!confirming && <button type="button" onClick={() => setConfirming(true)}>{ask}</button>}
      {confirming && (
        <span role="group" aria-label={confirmLabel}>
          <button type="button" class="danger" onClick={() => void remove()}>{confirm}</button>
          <button type="button" onClick={() => setConfirming(false)}>Cancel</button>
        </span>
      )}
      {error !== undefined && <span class="error" role="alert"> {error}</span>}
    </>
  );
}
