// Drives the LiveKit stand-in with LiveKit's official Node server SDK
// (livekit-server-sdk, which speaks Twirp with JSON bodies), verifies a
// webhook the stand-in sent and the tokens our gateway minted.
//
// Usage: node fidelity.mjs FIXTURE.json   (written by tests/tests/sdk_fidelity.rs)
// Exits non-zero, naming the check, at the first failure.

import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import {
  AccessToken,
  RoomServiceClient,
  TokenVerifier,
  TrackSource,
  WebhookReceiver,
} from 'livekit-server-sdk';

const fixture = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { url, api_key: key, api_secret: secret } = fixture;
const ROOM = 'node-room';

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (e) {
    console.error(`FAIL ${name}: ${e.stack ?? e}`);
    process.exit(1);
  }
}

async function rejects(promise, status, code) {
  try {
    await promise;
  } catch (e) {
    assert.equal(e.status, status, `status of ${e}`);
    if (code) assert.equal(e.code, code, `code of ${e}`);
    return;
  }
  assert.fail(`expected a ${status} error`);
}

/** Connects a client through the stand-in's scripting API. */
async function connect(token) {
  const res = await fetch(`${url}/stub/participants`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  return res.json();
}

async function publish(identity, source) {
  return fetch(`${url}/stub/rooms/${ROOM}/participants/${identity}/tracks`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ source }),
  });
}

const rooms = new RoomServiceClient(url, key, secret);

await check('RoomService over JSON: create, list, metadata', async () => {
  const room = await rooms.createRoom({ name: ROOM, emptyTimeout: 60, maxParticipants: 5 });
  assert.equal(room.name, ROOM);
  assert.equal(room.maxParticipants, 5);
  assert.equal(room.emptyTimeout, 60);
  assert.ok(room.sid.startsWith('RM_'));
  assert.ok(room.creationTime > 0n, 'int64 creationTime decodes');
  const listed = await rooms.listRooms([ROOM]);
  assert.deepEqual(listed.map((r) => r.name), [ROOM]);
  const updated = await rooms.updateRoomMetadata(ROOM, '{"course":"sauces"}');
  assert.equal(updated.metadata, '{"course":"sauces"}');
});

const learner = new AccessToken(key, secret, { identity: 'l-node', name: 'Node learner' });
learner.addGrant({ roomJoin: true, room: ROOM, canPublish: false, canSubscribe: true, canPublishData: true });

await check('a token minted by the SDK connects; participants list and get', async () => {
  const info = await connect(await learner.toJwt());
  assert.equal(info.identity, 'l-node');
  const participants = await rooms.listParticipants(ROOM);
  assert.deepEqual(participants.map((p) => p.identity), ['l-node']);
  const p = await rooms.getParticipant(ROOM, 'l-node');
  assert.equal(p.name, 'Node learner');
  assert.equal(p.permission.canPublish, false);
  assert.equal(p.permission.canSubscribe, true);
});

await check('UpdateParticipant grants the microphone only, and overwrites the whole permission', async () => {
  assert.equal((await publish('l-node', 'microphone')).status, 403, 'no grant yet');
  const p = await rooms.updateParticipant(ROOM, 'l-node', {
    permission: {
      canPublish: true,
      canSubscribe: true,
      canPublishData: true,
      canPublishSources: [TrackSource.MICROPHONE],
    },
    attributes: { 'estrade.floor': 'speaking' },
  });
  assert.deepEqual(p.permission.canPublishSources, [TrackSource.MICROPHONE]);
  assert.equal(p.attributes['estrade.floor'], 'speaking');
  assert.equal((await publish('l-node', 'camera')).status, 403, 'camera is not granted');
  const mic = await publish('l-node', 'microphone');
  assert.equal(mic.status, 201);
  const track = await mic.json();
  const muted = await rooms.mutePublishedTrack(ROOM, 'l-node', track.sid, true);
  assert.equal(muted.muted, true);
  assert.equal(muted.source, TrackSource.MICROPHONE);

  const partial = await rooms.updateParticipant(ROOM, 'l-node', { permission: { canPublish: false } });
  assert.equal(partial.permission.canSubscribe, false, 'an omitted field is overwritten');
  assert.equal(partial.tracks.length, 0, 'revoking publish unpublishes the microphone');
});

await check('SendData reaches the room', async () => {
  await rooms.sendData(ROOM, new TextEncoder().encode('hello'), 0, { topic: 'chat' });
  const state = await (await fetch(`${url}/stub/state`)).json();
  const room = state.rooms.find((r) => r.room.name === ROOM);
  assert.equal(room.data_packets, 1);
});

await check('RemoveParticipant, then Twirp not_found errors', async () => {
  await rooms.removeParticipant(ROOM, 'l-node');
  await rejects(rooms.getParticipant(ROOM, 'l-node'), 404, 'not_found');
  await rooms.deleteRoom(ROOM);
  await rejects(rooms.deleteRoom(ROOM), 404, 'not_found');
});

await check('credentials are checked: a wrong secret is refused with 401', async () => {
  const forged = new RoomServiceClient(url, key, 'not-the-secret-not-the-secret-not-the');
  await rejects(forged.listRooms(), 401);
});

await check('WebhookReceiver accepts a webhook the stand-in sent, and refuses it altered', async () => {
  const receiver = new WebhookReceiver(key, secret);
  const { body, authorization } = fixture.webhook;
  const event = await receiver.receive(body, authorization);
  assert.equal(event.event, 'room_started');
  assert.ok(event.id.startsWith('EV_'));
  assert.equal(event.room.name, fixture.room);
  assert.ok(event.createdAt > 0n);
  await assert.rejects(receiver.receive(body.replace(fixture.room, 'other-room'), authorization));
});

await check('TokenVerifier accepts the tokens our gateway minted, with the grants of each role', async () => {
  const verifier = new TokenVerifier(key, secret);
  const grants = async (role) => {
    const { jwt, identity } = fixture.tokens[role];
    const claims = await verifier.verify(jwt);
    assert.equal(claims.sub, identity);
    assert.equal(claims.iss, key);
    assert.ok(claims.exp > Date.now() / 1000);
    assert.equal(claims.video.room, fixture.room);
    assert.equal(claims.video.roomJoin, true);
    return claims.video;
  };
  const teacher = await grants('teacher');
  assert.equal(teacher.canPublish, true);
  assert.deepEqual(teacher.canPublishSources, ['camera', 'microphone', 'screen_share', 'screen_share_audio']);
  assert.equal(teacher.canSubscribe, true);
  assert.equal(teacher.canPublishData, true);
  for (const role of ['learner', 'classroom']) {
    const v = await grants(role);
    assert.equal(v.canPublish, false, role);
    assert.equal(v.canSubscribe, true, role);
    assert.equal(v.canPublishData, true, role);
    assert.equal(v.canUpdateOwnMetadata, false, role);
    assert.ok(!v.roomAdmin && !v.hidden, role);
  }
  const observer = await grants('observer');
  assert.equal(observer.hidden, true);
  assert.equal(observer.canSubscribe, true);
  assert.equal(observer.canPublish, false);
  assert.equal(observer.canPublishData, false);
});

console.log('node: all checks passed');
