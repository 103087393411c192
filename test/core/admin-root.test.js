'use strict';
// When Node-RED's admin app (and its JSON body parser) sees the receivers' requests first.
require('should');
const { adminAppCovers } = require('../../core/http/admin-root');

describe('core/http/admin-root', function () {
  it('covers every path when the admin app is at "/" (the default, as red.js formats it)', function () {
    adminAppCovers({ httpAdminRoot: '/', httpNodeRoot: '/' }, '/dingtalk/events').should.be.true();
    adminAppCovers({ httpAdminRoot: '/', httpNodeRoot: '/api/' }, '/dingtalk/events').should.be.true();
    adminAppCovers({ httpNodeRoot: '/' }, '/dingtalk/events').should.be.true(); // admin root unset: red.js makes it "/"
    adminAppCovers({ httpRoot: '/red', httpNodeRoot: '/red/' }, '/x').should.be.true();
  });

  it('covers nothing when the admin app is elsewhere or off, and claims nothing when both roots are unknown', function () {
    adminAppCovers({ httpAdminRoot: '/admin/', httpNodeRoot: '/' }, '/dingtalk/events').should.be.false();
    adminAppCovers({ httpAdminRoot: '/admin', httpNodeRoot: '/' }, '/administrator').should.be.false();
    adminAppCovers({ httpAdminRoot: false, httpNodeRoot: '/' }, '/dingtalk/events').should.be.false();
    adminAppCovers({ httpRoot: false }, '/dingtalk/events').should.be.false();
    adminAppCovers({}, '/dingtalk/events').should.be.false(); // a test harness or an embedding app
  });

  it('covers a receiver mounted under the admin root', function () {
    adminAppCovers({ httpAdminRoot: '/admin/', httpNodeRoot: '/admin/hooks/' }, '/dingtalk').should.be.true();
    adminAppCovers({ httpAdminRoot: '/admin/', httpNodeRoot: '/' }, '/admin/dingtalk').should.be.true();
  });
});
