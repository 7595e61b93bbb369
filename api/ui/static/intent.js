// Fill the new-policy form from a library example (no other script on the site).
(function () {
  const data = document.getElementById("examples");
  const body = document.getElementById("policy-body");
  if (!data || !body) return;
  const examples = JSON.parse(data.textContent);
  document.querySelectorAll("button.example").forEach(function (button) {
    button.addEventListener("click", function () {
      body.value = examples[button.dataset.example];
      const name = document.querySelector("input[name=name]");
      if (name && !name.value) name.value = button.dataset.example.replace(/_/g, "-");
    });
  });
})();
