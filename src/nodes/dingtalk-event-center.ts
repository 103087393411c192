/**
 * The event center: an editor plugin (package.json "node-red".plugins) whose sidebar tab,
 * dingtalk-event-center.html, answers "did system X get event Y?". The runtime half registers the
 * plugin and the admin routes the tab reads (event-center-routes.ts).
 */
import type { NodeAPI } from 'node-red';
import { registerEventCenterRoutes } from './event-center-routes';

interface PluginApi {
  registerPlugin(id: string, definition: Record<string, unknown>): void;
}

export default function register(RED: NodeAPI): void {
  (RED as NodeAPI & { plugins?: PluginApi }).plugins?.registerPlugin('dingtalk-event-center', { type: 'dingtalk-event-center' });
  registerEventCenterRoutes(RED);
}
