import { useEffect, useRef, type ReactNode, type RefObject } from 'react';

/**
 * A modal dialog on the browser's own <dialog>: the page behind is inert (focus cannot leave the
 * dialog), Escape closes it through `onClose`, and focus starts on `initialFocus` (the safe choice)
 * and returns to where it was when the dialog closes.
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
    >
      {props.children}
    </dialog>
  );
}
