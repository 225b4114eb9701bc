import { useEffect, useRef, useState } from 'react';
import type { AppStatus } from '../../shared/api.js';
import type { Progress } from '../../shared/progress.js';
import { useConnection } from './api/client.js';
import { Icon } from './components/Icon.js';
import { Notice } from './components/Notice.js';
import { pathFromDrop } from './drop.js';
import { errorText } from './errors.js';
import { showView, useNow, useView, VIEWS } from './hooks.js';
import { describeStatus } from './status-text.js';
import { Backups } from './views/Backups.js';
import type { OffsiteProgress } from './views/Offsite.js';
import { History } from './views/History.js';
import { Overview } from './views/Overview.js';
import { Restore, type DroppedFolder } from './views/Restore.js';
import { SettingsView } from './views/Settings.js';

export function App() {
  const { api, pathForFile, watch } = useConnection();
  const view = useView();
  const [status, setStatus] = useState<AppStatus | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [verifyProgress, setVerifyProgress] = useState<Progress | null>(null);
  const [offsiteProgress, setOffsiteProgress] = useState<OffsiteProgress | null>(null);
  const [connectionError, setConnectionError] = useState<string | null>(null);
  const [lostConnection, setLostConnection] = useState<string | null>(null);
  const [dropped, setDropped] = useState<DroppedFolder | null>(null);
  const [focusBackup, setFocusBackup] = useState<string | null>(null);
  const now = useNow(progress ? 1000 : 15_000);

  // A folder dropped anywhere on the window opens Restore with it; the page itself never navigates to it.
  useEffect(() => {
    const allow = (event: DragEvent) => event.preventDefault();
    const drop = (event: DragEvent) => {
      event.preventDefault();
      if (!event.dataTransfer) return;
      setDropped({ path: pathFromDrop(event.dataTransfer, pathForFile), at: Date.now() });
      showView('restore');
    };
    window.addEventListener('dragover', allow);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', allow);
      window.removeEventListener('drop', drop);
    };
  }, [pathForFile]);

  useEffect(() => {
    const refresh = () =>
      api.getStatus().then(
        (next) => {
          setStatus(next);
          setConnectionError(null);
        },
        (error: unknown) => setConnectionError(errorText(error)),
      );
    void refresh();
    // Events keep the status current; asking now and then also notices a lost connection.
    const timer = setInterval(refresh, 30_000);
    const unsubscribe = [
      api.on('status', (next) => {
        setStatus(next);
        setConnectionError(null);
        if (next.state !== 'running') setProgress(null);
      }),
      // Verification runs beside the app's one job (backup or restore), and shows in Backups.
      api.on('progress', (next) => (next.operation === 'verify' ? setVerifyProgress : setProgress)(next)),
      api.on('offsiteProgress', setOffsiteProgress),
      api.on('navigate', (target) => {
        setFocusBackup(target.backupName ?? null);
        showView(target.view);
      }),
    ];
    // The event stream tells within seconds when the bridge goes away; on its return, the status is asked again.
    if (watch)
      unsubscribe.push(
        watch((problem) => {
          setLostConnection(problem);
          if (!problem) void refresh();
        }),
      );
    return () => {
      clearInterval(timer);
      unsubscribe.forEach((off) => off());
    };
  }, [api, watch]);

  // A new view: its name in the window's title, and focus on its heading (not left on a link that is gone).
  const heading = useRef<HTMLHeadingElement>(null);
  const firstView = useRef(true);
  useEffect(() => {
    document.title = `${VIEWS.find((v) => v.id === view)!.label} — Aurora Locus Backup`;
    if (firstView.current) firstView.current = false;
    else heading.current?.focus();
  }, [view]);

  // The status says whether a job runs; its live progress comes as events (status.running is the
  // fallback right after a reload).
  const running = status?.job ? (progress && progress.operation === status.job.kind ? progress : status.running) : null;
  const problem = lostConnection ?? connectionError;
  // Focus is never left on the page's body: when the focused control goes away (the button that was
  // pressed is replaced by the result of pressing it), the view's heading takes focus.
  useEffect(() => {
    let focused: Element | null = null;
    const track = (event: FocusEvent) => (focused = event.target as Element);
    const observer = new MutationObserver(() => {
      if (focused && !focused.isConnected && (document.activeElement === document.body || document.activeElement === null)) {
        focused = null;
        heading.current?.focus();
      }
    });
    document.addEventListener('focusin', track);
    observer.observe(document.body, { childList: true, subtree: true });
    return () => {
      document.removeEventListener('focusin', track);
      observer.disconnect();
    };
  }, []);

  // The live progress, not the one in the last status event, says which step a restore is in.
  const live = status && running ? { ...status, running } : status;
  const summary = live ? describeStatus(live, now) : null;
  const title = VIEWS.find((v) => v.id === view)!.label;

  return (
    <div className="app">
      <nav className="sidebar" aria-label="Sections">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true" />
          <span>
            Aurora Locus
            <br />
            <strong>Backup</strong>
          </span>
        </div>
        <ul className="nav-list">
          {VIEWS.map((item) => (
            <li key={item.id}>
              <a href={`#${item.id}`} className="nav-link" aria-current={view === item.id ? 'page' : undefined}>
                <Icon name={item.id} />
                {item.label}
              </a>
            </li>
          ))}
        </ul>
        {summary ? (
          <p className={`sidebar-status tone-${summary.tone}`} aria-live="polite">
            <span className="status-dot" aria-hidden="true" />
            {summary.title}
          </p>
        ) : null}
      </nav>
      <main className="content" aria-labelledby="view-title">
        <h1 id="view-title" className="view-title" tabIndex={-1} ref={heading}>
          {title}
        </h1>
        {problem ? <Notice tone="error" title="Not connected">{problem}</Notice> : null}
        {view === 'overview' ? <Overview status={live} running={running} now={now} connectionError={problem} /> : null}
        {view === 'backups' ? (
          <Backups
            status={status}
            running={running}
            verifyProgress={verifyProgress}
            offsiteProgress={offsiteProgress}
            focus={focusBackup}
            now={now}
            onRestore={(path) => {
              setDropped({ path, at: Date.now() });
              showView('restore');
            }}
          />
        ) : null}
        {view === 'restore' ? <Restore dropped={dropped} onDroppedTaken={() => setDropped(null)} status={status} running={running} now={now} /> : null}
        {view === 'settings' ? <SettingsView /> : null}
        {view === 'history' ? <History status={status} now={now} /> : null}
      </main>
    </div>
  );
}
