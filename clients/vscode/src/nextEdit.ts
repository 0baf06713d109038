// Next-edit suggestions in VS Code: once an edit settles, the server's textDocument/copilotInlineEdit
// is asked for the edit the user will make next; its edits are shown in the editor (the text they
// replace struck through, the new text beside it), Tab applies them, Escape dismisses them.
//
// Why not VS Code's own inline edits: VS Code 1.139 shows an inline completion item away from the
// cursor (an "inline edit") only for items marked `isInlineEdit`, an API proposal that extensions
// outside VS Code's allow list cannot use; an ordinary item whose range is not at the cursor, as
// vscode-languageclient makes from an LSP 3.18 item, is never shown. So the extension draws the edit
// with decorations, and tells the server so (`experimental.tandem.nextEdits`): it then gets next
// edits only through this request, under `inline.nextEdits` like other editors' items.
import * as vscode from 'vscode';
import { ExecuteCommandRequest, type LanguageClient } from 'vscode-languageclient/node';
import { previewText } from './commands.js';

/** textDocument/copilotInlineEdit's edit, as the server answers it. */
interface CopilotInlineEdit {
  text: string;
  range: { start: { line: number; character: number }; end: { line: number; character: number } };
  textDocument: { uri: string; version: number };
  command: { title: string; command: string; arguments?: unknown[] };
}

/** How long the document must stay unchanged before the next edit is asked for (a word typed asks once). */
export const SETTLE_MS = 350;
const VISIBLE_KEY = 'tandem.nextEditVisible';

interface Shown {
  editor: vscode.TextEditor;
  version: number;
  edits: { range: vscode.Range; text: string; wire: CopilotInlineEdit }[];
}

export function registerNextEdits(client: LanguageClient, log: vscode.LogOutputChannel): vscode.Disposable[] {
  // The replaced text struck through on the diff editor's removed colour; the new text after it,
  // in ghost-text colour on the inserted colour.
  const removed = vscode.window.createTextEditorDecorationType({
    backgroundColor: new vscode.ThemeColor('diffEditor.removedTextBackground'),
    textDecoration: 'line-through',
  });
  const inserted = vscode.window.createTextEditorDecorationType({
    after: { color: new vscode.ThemeColor('editorGhostText.foreground'), backgroundColor: new vscode.ThemeColor('diffEditor.insertedTextBackground') },
  });
  let shown: Shown | undefined;
  let pending: { timer: ReturnType<typeof setTimeout> | undefined; cancel: vscode.CancellationTokenSource } | undefined;
  /** The document change that applying a suggestion makes: it neither dismisses nor is it the user's. */
  let applying = false;

  const stopPending = () => {
    if (!pending) return;
    if (pending.timer) clearTimeout(pending.timer);
    pending.cancel.cancel();
    pending.cancel.dispose();
    pending = undefined;
  };

  const hide = () => {
    if (!shown) return;
    shown.editor.setDecorations(removed, []);
    shown.editor.setDecorations(inserted, []);
    shown = undefined;
    void vscode.commands.executeCommand('setContext', VISIBLE_KEY, false);
  };

  const serverCommand = (c: CopilotInlineEdit['command']) =>
    client.sendRequest(ExecuteCommandRequest.type, { command: c.command, arguments: c.arguments ?? [] }).catch((err: unknown) => log.warn(`tandem: ${c.command} failed: ${err instanceof Error ? err.message : String(err)}`));

  /** The user refused the suggestion (Escape, or typed something else): the server counts it. */
  const dismiss = () => {
    const s = shown;
    hide();
    for (const e of s?.edits ?? []) void serverCommand({ ...e.wire.command, command: 'tandem.nextEditDismissed' });
  };

  const show = (editor: vscode.TextEditor, version: number, wire: CopilotInlineEdit[]) => {
    hide();
    const edits = wire.map((e) => ({ range: client.protocol2CodeConverter.asRange(e.range), text: e.text, wire: e }));
    if (edits.length === 0) return;
    shown = { editor, version, edits };
    editor.setDecorations(removed, edits.filter((e) => !e.range.isEmpty).map((e) => ({ range: e.range, hoverMessage: hover(e.text) })));
    editor.setDecorations(
      inserted,
      edits.filter((e) => e.text.length > 0).map((e) => ({ range: new vscode.Range(e.range.end, e.range.end), hoverMessage: hover(e.text), renderOptions: { after: { contentText: previewText(e.text) } } })),
    );
    void vscode.commands.executeCommand('setContext', VISIBLE_KEY, true);
    for (const e of wire) void client.sendNotification('textDocument/didShowInlineEdit', { item: e });
  };

  const ask = (editor: vscode.TextEditor) => {
    stopPending();
    const cancel = new vscode.CancellationTokenSource();
    const mine = { timer: undefined as ReturnType<typeof setTimeout> | undefined, cancel };
    pending = mine;
    mine.timer = setTimeout(async () => {
      mine.timer = undefined;
      if (!client.isRunning()) return;
      const doc = editor.document;
      const version = doc.version;
      const params = { textDocument: { uri: client.code2ProtocolConverter.asUri(doc.uri), version }, position: client.code2ProtocolConverter.asPosition(editor.selection.active) };
      try {
        const r = (await client.sendRequest('textDocument/copilotInlineEdit', params, cancel.token)) as { edits?: CopilotInlineEdit[] } | null;
        // Typing since, or another editor: the answer is for text that is gone.
        if (pending !== mine || cancel.token.isCancellationRequested || doc.version !== version || vscode.window.activeTextEditor !== editor) return;
        show(editor, version, (r?.edits ?? []).filter((e) => e.textDocument.uri === params.textDocument.uri && e.textDocument.version === version));
      } catch (err) {
        if (!cancel.token.isCancellationRequested) log.debug(`tandem: next edit: ${err instanceof Error ? err.message : String(err)}`);
      } finally {
        if (pending === mine) pending = undefined;
        cancel.dispose();
      }
    }, SETTLE_MS);
  };

  const accept = async () => {
    const s = shown;
    if (!s) return;
    hide();
    if (s.editor.document.version !== s.version) return;
    applying = true;
    let applied = false;
    try {
      // One undo step for the whole suggestion.
      applied = await s.editor.edit((b) => {
        for (const e of s.edits) b.replace(e.range, e.text);
      });
    } finally {
      applying = false;
    }
    if (!applied) return;
    for (const e of s.edits) void serverCommand(e.wire.command);
    // The edit just made is one of the user's: the one after it may follow.
    if (s.editor.document.uri.scheme === 'file' || s.editor.document.uri.scheme === 'untitled') ask(s.editor);
  };

  return [
    removed,
    inserted,
    { dispose: stopPending },
    vscode.commands.registerCommand('tandem.acceptNextEdit', accept),
    vscode.commands.registerCommand('tandem.dismissNextEdit', dismiss),
    vscode.workspace.onDidChangeTextDocument((e) => {
      if (e.contentChanges.length === 0 || applying) return;
      const editor = vscode.window.activeTextEditor;
      if (shown && shown.editor.document === e.document) dismiss();
      if (editor && editor.document === e.document && (e.document.uri.scheme === 'file' || e.document.uri.scheme === 'untitled')) ask(editor);
    }),
    vscode.window.onDidChangeActiveTextEditor(() => {
      stopPending();
      hide();
    }),
  ];
}

function hover(text: string): vscode.MarkdownString {
  const md = new vscode.MarkdownString();
  md.appendMarkdown('**tandem: next edit** (Tab applies, Escape dismisses)\n\n');
  md.appendCodeblock(text.length > 0 ? text : '(deletion)');
  return md;
}
