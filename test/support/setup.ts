// Loaded by mocha before every spec file (see .mocharc.json).
import * as chai from 'chai';
import chaiAsPromised from 'chai-as-promised';

chai.use(chaiAsPromised);
