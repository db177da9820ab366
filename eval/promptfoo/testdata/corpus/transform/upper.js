module.exports = function (output, context) {
  return output.toUpperCase();
};
