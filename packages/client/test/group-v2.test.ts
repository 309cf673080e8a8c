// A member's view of a v2 room's MLS group (src/v2/group.ts) with the pinned ts-mls: the
// lifecycle, and the checks that make the v2 guarantees hold on the member's side
// (docs/security.md): a commit without the join proof, a leaf of the wrong shape, a message
// whose MLS sender is not its card's `from` or that is bound to another id are refused; a
// viewed message does not open again from the saved state; a removed member cannot read the
// next epoch; a copy of a member's state stops working after that member's update.
import t from 'tap'
import { encodeGroupState } from 'ts-mls'
import { deriveMemberKeysV2, deriveRoomKeysV2, encodeBase64url, generateRoomCodeV2, GroupCheckError, KEY_RETENTION, newMemberSecret, newMessageId, RoomGroup, type MemberKeysV2, type RoomKeysV2 } from '../src/index.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const read = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Alice creates; each other member joins by external commit, which everyone already in applies. */
async function groupOf (room: RoomKeysV2, count: number) {
  const members = await Promise.all(Array.from({ length: count }, async () => deriveMemberKeysV2(newMemberSecret())))
  const created = await RoomGroup.create(room, members[0] as MemberKeysV2)
  let groups = [created.group]
  let sealed = created.sealedGroupInfo
  for (const member of members.slice(1)) {
    const epoch = (groups[0] as RoomGroup).epoch
    const joined = await RoomGroup.join(room, member, epoch, sealed)
    groups = [...await Promise.all(groups.map(async (g) => g.applyCommit(joined.commit))), joined.group]
    sealed = joined.sealedGroupInfo
  }
  return { members, groups, sealed }
}

t.test('create, join by external commit, apply in order: every member on one epoch, each leaf its member id', async (t) => {
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const { members, groups } = await groupOf(room, 3)
  t.same(groups.map((g) => g.epoch), [2n, 2n, 2n], 'three members, two joins: epoch 2 everywhere')
  t.same(groups[0]?.memberIds().sort(), members.map((m) => m.memberId).sort(), 'the leaves are the three member ids')
  const [alice, bob, carol] = groups as [RoomGroup, RoomGroup, RoomGroup]

  const id = newMessageId()
  const sent = await alice.seal(id, text('hello'))
  t.equal(sent.epoch, 2n)
  for (const [name, group] of [['Bob', bob], ['Carol', carol]] as const) {
    const opened = await group.open(id, members[0]?.memberId ?? '', sent.message)
    t.equal(read(opened.plaintext), 'hello', `${name} reads Alice's message`)
  }
})

t.test('a viewed message does not open again, not even from the state saved after it', async (t) => {
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const { members, groups } = await groupOf(room, 2)
  const [alice, bob] = groups as [RoomGroup, RoomGroup]
  const id = newMessageId()
  const { message } = await alice.seal(id, text('once'))
  const savedBefore = bob.save()
  const opened = await bob.open(id, members[0]?.memberId ?? '', message)
  t.equal(read(opened.plaintext), 'once')
  const saved = opened.group.save()
  const reloaded = await RoomGroup.load(room, members[1] as MemberKeysV2, saved)
  await t.rejects(reloaded.open(id, members[0]?.memberId ?? '', message), 'the saved state after viewing holds no key for it')
  const before = await RoomGroup.load(room, members[1] as MemberKeysV2, savedBefore)
  t.equal(read((await before.open(id, members[0]?.memberId ?? '', message)).plaintext), 'once', 'while the state saved before it still does (so the session saves before confirming)')
})

t.test('a message whose MLS sender is not its card\'s `from`, or bound to another id, is refused, never shown as the claimed sender\'s', async (t) => {
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const { members, groups } = await groupOf(room, 3)
  const [, bob, carol] = groups as [RoomGroup, RoomGroup, RoomGroup]
  const id = newMessageId()
  const forged = await carol.seal(id, text('I am Alice'))
  await t.rejects(bob.open(id, members[0]?.memberId ?? '', forged.message), new GroupCheckError('sender', ''), 'Carol\'s message under Alice\'s name: refused')
  await t.rejects(bob.open(newMessageId(), members[2]?.memberId ?? '', forged.message), { name: 'GroupCheckError', reason: 'message-id' }, 'moved to another card: refused')
  t.equal(read((await bob.open(id, members[2]?.memberId ?? '', forged.message)).plaintext), 'I am Alice', 'under Carol\'s own id it opens (as Carol\'s)')
})

t.test('a commit without a valid join proof (a server, or anyone without the code) is refused by every member', async (t) => {
  const code = generateRoomCodeV2()
  const room = await deriveRoomKeysV2(code)
  const { groups, sealed } = await groupOf(room, 2)
  // The intruder has the sealed GroupInfo opened for it (as a server holding yesterday's code could) but a wrong join key.
  const intruderRoom = { ...room, joinKey: (await deriveRoomKeysV2(generateRoomCodeV2())).joinKey }
  const intruder = await RoomGroup.join(intruderRoom, await deriveMemberKeysV2(newMemberSecret()), 1n, sealed)
  for (const group of groups) {
    await t.rejects(group.applyCommit(intruder.commit), { name: 'GroupCheckError', reason: 'join-proof' }, 'refused')
  }
})

t.test('a joiner whose leaf does not carry its own member id is refused', async (t) => {
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const { groups, sealed } = await groupOf(room, 2)
  const honest = await deriveMemberKeysV2(newMemberSecret())
  const other = await deriveMemberKeysV2(newMemberSecret())
  // Claims another member's id: its credential names `other` while its key is `honest`'s.
  const impostor = { ...honest, memberId: other.memberId }
  const joined = await RoomGroup.join(room, impostor, 1n, sealed)
  await t.rejects((groups[0] as RoomGroup).applyCommit(joined.commit), { name: 'GroupCheckError', reason: 'leaf-shape' })
})

t.test('a removed member cannot read the next epoch; a copy of a member\'s state stops working after that member\'s update', async (t) => {
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const { members, groups } = await groupOf(room, 3)
  let [alice, bob] = groups as [RoomGroup, RoomGroup]
  const carol = groups[2] as RoomGroup
  const stolenBob = bob.save()

  const removal = await alice.remove([members[2]?.memberId ?? ''])
  alice = removal.group
  bob = await bob.applyCommit(removal.commit)
  t.same(alice.memberIds().sort(), [members[0]?.memberId, members[1]?.memberId].sort(), 'Carol is out')
  const id = newMessageId()
  const after = await alice.seal(id, text('without Carol'))
  t.equal(read((await bob.open(id, members[0]?.memberId ?? '', after.message)).plaintext), 'without Carol')
  await t.rejects(carol.open(id, members[0]?.memberId ?? '', after.message), { name: 'GroupCheckError', reason: 'unknown-epoch' }, 'Carol has no key for it')
  const carolAfter = await carol.applyCommit(removal.commit)
  t.equal(carolAfter.state.groupActiveState.kind, 'removedFromGroup', 'following the commit that removed her tells her so')
  await t.rejects(carolAfter.open(id, members[0]?.memberId ?? '', after.message), 'and opens nothing of the next epoch')

  const update = await bob.update()
  bob = update.group
  alice = await alice.applyCommit(update.commit)
  const copy = await RoomGroup.load(room, members[1] as MemberKeysV2, stolenBob)
  const next = newMessageId()
  const sealed = await alice.seal(next, text('after Bob\'s update'))
  t.equal(read((await bob.open(next, members[0]?.memberId ?? '', sealed.message)).plaintext), 'after Bob\'s update')
  await t.rejects(copy.open(next, members[0]?.memberId ?? '', sealed.message), { name: 'GroupCheckError', reason: 'unknown-epoch' }, 'the stolen copy is epochs behind')
  await t.rejects(copy.applyCommit(removal.commit).then(async (g) => g.applyCommit(update.commit)), 'and cannot follow Bob\'s own update')
})

t.test('a member forging another member\'s message (sender data naming their leaf, the keys any member can derive) is refused: it is not signed by that leaf', async (t) => {
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const { members, groups } = await groupOf(room, 3)
  const [alice, bob, carol] = groups as [RoomGroup, RoomGroup, RoomGroup]
  // Carol's own state, but encrypting as leaf 0 (Alice): MLS gives every member every leaf's
  // application secrets; only the signature is Alice's alone.
  const aliceLeaf = alice.state.privatePath.leafIndex
  const posing = { ...carol.state, privatePath: { ...carol.state.privatePath, leafIndex: aliceLeaf } }
  const forger = await RoomGroup.load(room, members[2] as MemberKeysV2, encodeBase64url(encodeGroupState(posing)))
  const id = newMessageId()
  const forged = await forger.seal(id, text('I am Alice, really'))
  await t.rejects(bob.open(id, members[0]?.memberId ?? '', forged.message), { name: 'GroupCheckError', reason: 'signature' }, 'under Alice\'s name the sender data matches, but Carol\'s signature does not verify with Alice\'s leaf: refused')
  await t.rejects(bob.open(id, members[2]?.memberId ?? '', forged.message), { name: 'GroupCheckError', reason: 'sender' }, 'under Carol\'s name: the sender data names Alice: refused')
})

t.test('KEY_RETENTION: a card from up to 16 commits ago opens; one from 17 commits ago does not (its epoch\'s keys are gone)', async (t) => {
  t.equal(KEY_RETENTION.retainKeysForEpochs, 16)
  const room = await deriveRoomKeysV2(generateRoomCodeV2())
  const { members, groups } = await groupOf(room, 2)
  let [alice, bob] = groups as [RoomGroup, RoomGroup]
  const old = newMessageId()
  const oldest = await alice.seal(old, text('sent 17 commits ago'))
  alice = oldest.group
  let kept: { id: string, message: Uint8Array } | undefined
  for (let i = 1; i <= 17; i++) {
    if (i === 2) {
      const id = newMessageId()
      const sealed = await alice.seal(id, text('sent 16 commits ago'))
      alice = sealed.group
      kept = { id, message: sealed.message }
    }
    const update = await alice.update()
    alice = update.group
    bob = await bob.applyCommit(update.commit)
  }
  t.equal(bob.epoch - oldest.epoch, 17n)
  const aliceId = members[0]?.memberId ?? ''
  t.equal(read((await bob.open(kept?.id ?? '', aliceId, kept?.message ?? new Uint8Array())).plaintext), 'sent 16 commits ago', '16 epochs back: still held')
  await t.rejects(bob.open(old, aliceId, oldest.message), { name: 'GroupCheckError', reason: 'unknown-epoch' }, '17 epochs back: refused, its keys are gone (forward secrecy)')
})
