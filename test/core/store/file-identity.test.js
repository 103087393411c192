'use strict';
// Which file a path names, on real files: the same file after writes and renames back, "deleted" when
// nothing is there (or a folder on the way became a file), "replaced" when another file took the name.
require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { identify, fileState, sameFile } = require('../../../core/store/file-identity');

describe('core/store file identity', function () {
  let dir;
  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-fileid-'));
  });
  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('tells the same file, through writes and a rename away and back', function () {
    const file = path.join(dir, 'a');
    fs.writeFileSync(file, 'one');
    const id = identify(file);
    id.ino.should.be.type('bigint');
    fs.appendFileSync(file, 'two');
    fileState(file, id).should.equal('same');
    fs.renameSync(file, `${file}.away`);
    fs.renameSync(`${file}.away`, file);
    fileState(file, id).should.equal('same');
    sameFile(identify(file), id).should.be.true();
  });

  it('tells a deleted file, and a folder on the way that is gone or became a file', function () {
    const sub = path.join(dir, 'sub');
    fs.mkdirSync(sub);
    const file = path.join(sub, 'a');
    fs.writeFileSync(file, 'x');
    const id = identify(file);
    fs.unlinkSync(file);
    fileState(file, id).should.equal('deleted');
    (identify(file) === undefined).should.be.true();
    fs.rmSync(sub, { recursive: true });
    fileState(file, id).should.equal('deleted'); // ENOENT
    fs.writeFileSync(sub, 'now a file');
    fileState(file, id).should.equal('deleted'); // ENOTDIR
  });

  it('tells a file replaced by another one of the same name and content', function () {
    const file = path.join(dir, 'a');
    fs.writeFileSync(file, 'same');
    const id = identify(file);
    const other = path.join(dir, 'b');
    fs.writeFileSync(other, 'same');
    const kept = identify(other); // held while `file` still exists: the two inodes differ
    fs.renameSync(other, file);
    fileState(file, id).should.equal('replaced');
    sameFile(identify(file), kept).should.be.true();
    sameFile(identify(file), id).should.be.false();
    sameFile(undefined, id).should.be.false();
  });

  it('throws what proves nothing either way instead of calling it deleted', function () {
    const file = path.join(dir, 'a');
    fs.writeFileSync(file, 'x');
    const id = identify(file);
    (() => fileState(`${file}\0`, id)).should.throw(); // an invalid path: neither there nor gone
  });
});
