import { useEffect, useRef, type ReactNode, type RefObject } from 'react';

const FOCUSABLE = 'button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])';

/**
 * A modal dialog on the browser's own <dialog>: the page behind is inert (focus cannot leave the
 * dialog), Escape closes it through `onClose`, and focus starts on `initialFocus` (the safe choice)
 * and returns to where it was when the dialog closes. Tab cycles through the dialog's controls.
 */
export function Modal(props: {
  labelledBy: string;
  describedBy?: string;
  role?: 'dialog' | 'alertdialog';
  onClose: () => void;
  initialFocus: RefObject<HTMLElement | null>;
  className?: string;
  children: ReactNode;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const { onClose, initialFocus } = props;
  useEffect(() => {
    const element = dialog.current!;
    const before = document.activeElement as HTMLElement | null;
    element.showModal();
    initialFocus.current?.focus();
    return () => {
      element.close();
      if (before?.isConnected) before.focus();
      // The element that opened the dialog may be gone: then focus goes to the view's heading, never the body.
      else document.getElementById('view-title')?.focus();
    };
  }, [initialFocus]);
  return (
    <dialog
      ref={dialog}
      className={`modal ${props.className ?? ''}`}
      role={props.role}
      aria-modal="true"
      aria-labelledby={props.labelledBy}
      aria-describedby={props.describedBy}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
      onKeyDown={(event) => {
        // The page behind is inert, but Tab past the last control would still leave for the browser's own UI.
        if (event.key !== 'Tab') return;
        const focusable = [...dialog.current!.querySelectorAll<HTMLElement>(FOCUSABLE)].filter((el) => !el.hasAttribute('disabled'));
        if (focusable.length === 0) return;
        const first = focusable[0]!;
        const last = focusable[focusable.length - 1]!;
        if (event.shiftKey && document.activeElement === first) {
          event.preventDefault();
          last.focus();
        } else if (!event.shiftKey && document.activeElement === last) {
          event.preventDefault();
          first.focus();
        }
      }}
    >
      {props.children}
    </dialog>
  );
}
