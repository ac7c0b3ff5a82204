/** The API's shapes: named aliases of the types generated from the backend's OpenAPI document
 * (api.gen.ts from api.openapi.json; `scripts/api-types` regenerates both, `scripts/test` fails
 * when they are stale). Never re-spell a shape the document describes here: add the field to the
 * backend's model and regenerate. One alias a line, so branches adding fields merge simply.
 *
 * Hand-written, because the document does not describe them: `Paged<T>` (the document has one
 * schema per page type; the paging helpers need the generic), `AgentCreate` and `HttpToolCreate`
 * (request bodies: see below); `RunTarget`, `HttpMethod` and `SecretSource` only name a field's
 * type. */

import type { components } from './api.gen'

type Schemas = components['schemas']

export type HttpToolSpec = Schemas['HttpTool']
export type BuiltinToolSpec = Schemas['BuiltinTool']
export type ToolSpec = HttpToolSpec | BuiltinToolSpec
export type AgentStatus = Schemas['AgentStatus']
export type Pipeline = Schemas['Pipeline']
export type HttpMethod = NonNullable<HttpToolSpec['method']>
/** `GET /api/catalog` (backend/routes/catalog.py): what an agent may choose from. */
export type Catalog = Schemas['Catalog']
/** An HTTP tool as a body sends it: its timeout may be left to the server's default. */
export type HttpToolCreate = Omit<HttpToolSpec, 'timeout_s'> & Partial<Pick<HttpToolSpec, 'timeout_s'>>
/** `POST /api/agents`' body: the slug and the name are required, the rest has the server's
 * defaults (the generated type requires every field with a default: true of what the server
 * sends, not of what it takes). The form may send a voice or model the catalog no longer
 * offers (the server answers 422 on it), so those two are any string here. */
export type AgentCreate = Pick<Schemas['AgentCreate'], 'slug' | 'name'> & Partial<Omit<Schemas['AgentCreate'], 'tools' | 'voice' | 'model'>> & { tools?: HttpToolCreate[]; voice?: string; model?: string }
export type AgentUpdate = Schemas['AgentUpdate']
export type Agent = Schemas['AgentConfig']
/** `GET /api/agents` item: an agent with its calls at a glance. */
export type AgentListItem = Schemas['AgentListItem']
export type Paged<T> = Omit<Schemas['Paged_SessionItem_'], 'items'> & { items: T[] }
export type SessionKind = Schemas['SessionKind']
export type CallSession = Schemas['SessionItem']
export type TokenUsage = Schemas['TokenUsage']
export type CallTurn = Schemas['CallTurn']
export type SessionDetail = Schemas['SessionDetail']
export type RoomGrant = Schemas['RoomGrantBody']
/** What a call runs: a published version number, or the working draft. */
export type RunTarget = Schemas['SpawnGrant']['version']
export type SpawnGrant = Schemas['SpawnGrant']
export type AgentVersion = Schemas['AgentVersion']
export type VersionDiff = Schemas['VersionDiff']
export type ModelTokens = Schemas['ModelTokens']
export type CallFigures = Schemas['CallFigures']
export type GroupBy = Schemas['GroupBy']
export type CallAnalytics = Schemas['CallAnalytics']
export type RoomView = Schemas['RoomView']
export type Stats = Schemas['Stats']
export type PassReport = Schemas['PassReportBody']
export type Me = Schemas['Me']
export type Secret = Schemas['SecretInfo']
export type SecretSource = Secret['source']
export type SecretList = Schemas['SecretList']
export type SecretCreate = Schemas['SecretCreate']
export type ApiKey = Schemas['ApiKeyInfo']
export type ApiKeyCreated = Schemas['ApiKeyCreated']
export type ApiKeyList = Schemas['ApiKeyList']
export type ApiKeyCreate = Schemas['ApiKeyCreate']
export type OwnerEgress = Schemas['EgressPolicy']
export type DashboardConfig = Schemas['DashboardConfig']
export type DevSignIn = Schemas['DevSession']
export type Webhook = Schemas['WebhookInfo']
export type WebhookCreated = Schemas['WebhookCreated']
export type WebhookList = Schemas['WebhookList']
export type WebhookCreate = Schemas['WebhookCreate']
export type WebhookPatch = Schemas['WebhookPatch']
export type EventType = Schemas['EventType']
export type WebhookDelivery = Schemas['DeliveryInfo']
export type WebhookDeliveryPage = Schemas['DeliveryPage']
