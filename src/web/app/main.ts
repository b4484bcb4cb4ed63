const main = document.getElementById("main");
if (main) main.textContent = "opskit dashboard";
