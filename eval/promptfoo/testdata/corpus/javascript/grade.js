// Scores the output by how many of the expected digits it contains.
module.exports = {
  digits: function (output, context) {
    const want = String(context.vars.a * context.vars.b).split('');
    const found = want.filter((d) => output.includes(d)).length;
    return { pass: found === want.length, score: found / want.length, reason: found + ' of ' + want.length + ' digits' };
  },
};
